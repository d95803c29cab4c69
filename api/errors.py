"""The one error format, and the one exception handler that renders every error in it.

Body: {"error": {"type", "code", "message", "param", "errors": [{"param", "code", "message"}]}}
"""

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from core.db import is_transient
from core.errors import FIELD_CODES, Conflict, DomainError, Mismatch, NotPermitted, ResourceMissing
from idempotency.errors import IdempotencyError

logger = logging.getLogger(__name__)

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
API_ERROR = "api_error"


class ApiError(DomainError):
    """An error of the HTTP layer itself (a body too large, ambiguous JSON): its status is its own."""

    status = 400
    type = INVALID_REQUEST


# The one map from domain errors to HTTP: each kind's status (the nearest class in the error's MRO wins),
# and the error types other than invalid_request_error.
STATUSES: dict[type[DomainError], int] = {
    ResourceMissing: 404,
    Conflict: 409,
    NotPermitted: 403,
    Mismatch: 422,
    DomainError: 400,
}
ERROR_TYPES: dict[type[DomainError], str] = {IdempotencyError: "idempotency_error"}


def _nearest[T](table: dict[type[DomainError], T], error: DomainError, default: T) -> T:
    return next((table[cls] for cls in type(error).__mro__ if cls in table), default)


def status_of(error: DomainError) -> int:
    return error.status if isinstance(error, ApiError) else _nearest(STATUSES, error, 400)


def type_of(error: DomainError) -> str:
    return error.type if isinstance(error, ApiError) else _nearest(ERROR_TYPES, error, INVALID_REQUEST)


class RequestTooLarge(ApiError):
    status = 413
    code = "request_too_large"


# A lost connection, a restart or a failover of PostgreSQL (and a statement cancelled or deadlocked:
# core.db.is_transient): the request wrote nothing it did not also commit with its Idempotency-Key, so it is
# safe to send again.
RETRY_AFTER_SECONDS = 1


def service_unavailable_body() -> dict[str, Any]:
    return error_body(
        type=API_ERROR,
        code="service_unavailable",
        message="The service is briefly unavailable. Retry the request, with the same Idempotency-Key.",
    )


def error_body(
    *,
    type: str,
    code: str,
    message: str,
    param: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "type": type,
            "code": code,
            "message": message,
            "param": param,
            "errors": errors or [],
        }
    }


def field_errors(detail: Any, param: str | None = None) -> list[dict[str, Any]]:
    """Flatten DRF's nested ValidationError detail into our list of {param, code, message}."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else str(key)
            child = f"{param}.{name}" if param and name else (name or param)
            out.extend(field_errors(value, child))
        return out
    if isinstance(detail, list):
        return [error for item in detail for error in field_errors(item, param)]
    code = getattr(detail, "code", None) or "invalid"
    return [{"param": param, "code": FIELD_CODES.get(code, code), "message": str(detail)}]


def _validation_response(errors: list[dict[str, Any]]) -> Response:
    first = errors[0] if errors else {"param": None, "message": "Invalid request."}
    return Response(
        error_body(
            type=INVALID_REQUEST,
            code="parameter_invalid",
            message=first["message"],
            param=first["param"],
            errors=errors,
        ),
        status=400,
    )


def _plain(status: int, code: str, message: str, type: str = INVALID_REQUEST) -> Response:
    return Response(error_body(type=type, code=code, message=message), status=status)


def exception_handler(exc: Exception, context: dict) -> Response:
    """Render any exception in the error format; whatever the request wrote is rolled back: the request's
    own transaction (PATCH, DELETE: api/views.py) here; POSTs' transactions and batches already were."""
    if getattr(context.get("view"), "in_request_transaction", False):
        for connection in connections.all(initialized_only=True):
            if connection.in_atomic_block:
                connection.set_rollback(True)
    return _render(exc)


def _render(exc: Exception) -> Response:
    if is_transient(exc):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).strip()[:200])
        response = Response(service_unavailable_body(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, DomainError):
        body = error_body(type=type_of(exc), code=exc.code, message=exc.message, param=exc.param, errors=exc.errors)
        body["error"].update(exc.extra)
        return Response(body, status=status_of(exc))
    if isinstance(exc, drf.ValidationError):
        return _validation_response(field_errors(exc.detail))
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return _validation_response(field_errors(drf.ValidationError(detail).detail))
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        code = exc.get_codes() if isinstance(exc, drf.AuthenticationFailed) else "api_key_missing"
        if isinstance(exc, drf.NotAuthenticated):
            message = "No API key provided. Send it as 'Authorization: Bearer sk_test_…'."
        else:
            message = str(exc.detail)
        response = _plain(401, code, message, type=AUTHENTICATION)
        response["WWW-Authenticate"] = "Bearer"
        return response
    if isinstance(exc, RequestDataTooBig):
        return _plain(413, "request_too_large", "The request body is too large.")
    if isinstance(exc, drf.ParseError):
        return _plain(400, "invalid_json", f"The request body is not valid JSON: {exc.detail}")
    if isinstance(exc, drf.UnsupportedMediaType):
        return _plain(415, "unsupported_media_type", "Send the request body as application/json.")
    if isinstance(exc, (Http404, drf.NotFound)):
        return _plain(404, "resource_missing", "No such resource.")
    if isinstance(exc, (DjangoPermissionDenied, drf.PermissionDenied)):
        return _plain(403, "permission_denied", "This key may not perform this request.")
    if isinstance(exc, drf.MethodNotAllowed):
        return _plain(405, "method_not_allowed", str(exc.detail))
    if isinstance(exc, drf.NotAcceptable):
        return _plain(406, "not_acceptable", "This API only answers application/json.")
    if isinstance(exc, drf.Throttled):
        return _plain(429, "rate_limited", "Too many requests.")
    if isinstance(exc, drf.APIException):
        return _plain(exc.status_code, "invalid_request", str(exc.detail))
    logger.exception("Unhandled error", exc_info=exc)
    return _plain(500, "internal_error", "Something went wrong on our side.", type=API_ERROR)


def json_not_found(request, exception=None) -> JsonResponse:
    """handler404 for URLs outside every route: the same error body as the API."""
    return JsonResponse(
        error_body(type=INVALID_REQUEST, code="resource_missing", message="No such resource."), status=404
    )


def json_server_error(request) -> JsonResponse:
    """handler500, for whatever escaped a view's own handling (a middleware, the commit of an atomic
    request, the back-office): a database outage is still a 503 to retry, anything else a 500."""
    if (error := sys.exception()) is not None and is_transient(error):
        response = JsonResponse(service_unavailable_body(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    body = error_body(type=API_ERROR, code="internal_error", message="Something went wrong on our side.")
    return JsonResponse(body, status=500)


def json_bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body(type=INVALID_REQUEST, code="bad_request", message="Bad request."), status=400)
