"""Request-Id on every response, and one access-log line per request carrying it; the session, user and
messages middleware for the back-office only."""

import logging
import time

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.template.response import TemplateResponse

from core.db import is_query_canceled, statement_timeout
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


# The paths served to people in a browser, with a session: the back-office and the API's docs. Everything
# else is the API (a Bearer key on each request, no cookies) or a 404.
BACK_OFFICE_PREFIXES = ("/admin/", "/docs", "/openapi.json")


def is_back_office(request) -> bool:
    return request.path_info.startswith(BACK_OFFICE_PREFIXES)


def is_admin(request) -> bool:
    return request.path_info.startswith("/admin/")


class BackOfficeOnly:
    """Mixed into a Django middleware: it runs for back-office paths only, and API requests skip it."""

    def __call__(self, request):
        if is_back_office(request):
            return super().__call__(request)
        return self.get_response(request)


class BackOfficeSessionMiddleware(BackOfficeOnly, SessionMiddleware):
    """Sessions for the back-office. An API request has none: no session object, no Vary: Cookie."""


class BackOfficeAuthenticationMiddleware(BackOfficeOnly, AuthenticationMiddleware):
    """request.user for the back-office. An API request is authenticated by its key (DRF), never a user."""


class BackOfficeMessageMiddleware(BackOfficeOnly, MessageMiddleware):
    """The admin's flash messages."""


class BackOfficeStatementTimeoutMiddleware:
    """Every SQL statement of a back-office request runs under BACK_OFFICE_STATEMENT_TIMEOUT: PostgreSQL
    cancels one that runs longer (it does not keep running after the request is gone, as it would when
    gunicorn kills a worker at WEB_TIMEOUT), and the page says so instead of an error page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_admin(request):  # the API docs query nothing
            return self.get_response(request)
        with statement_timeout(settings.BACK_OFFICE_STATEMENT_TIMEOUT):
            return self.get_response(request)

    def process_exception(self, request, exception):
        if not (is_admin(request) and is_query_canceled(exception)):
            return None
        context = {
            **admin.site.each_context(request),
            "title": "This page took too long",
            "seconds": settings.BACK_OFFICE_STATEMENT_TIMEOUT,
        }
        return TemplateResponse(request, "admin/compliance/query_timeout.html", context, status=503)
