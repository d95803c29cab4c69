"""Request-Id on every response, and one access-log line per request carrying it."""

import logging
import time

from core.ids import new_public_id

logger = logging.getLogger("payoutsite.access")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = new_public_id("req")
        request.request_id = request_id
        started = time.perf_counter()
        response = self.get_response(request)
        response["Request-Id"] = request_id
        logger.info(
            "request_id=%s method=%s path=%s status=%s duration_ms=%.1f",
            request_id,
            request.method,
            request.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response
