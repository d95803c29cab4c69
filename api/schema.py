"""OpenAPI helpers: every operation documents every status it can answer, each error with the error body."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from api.serializers import ErrorSerializer
from core.metadata import METADATA_MAX_KEY_LENGTH, METADATA_MAX_KEYS, METADATA_MAX_VALUE_LENGTH
from core.pagination import MAX_LIMIT

ERROR_DESCRIPTIONS = {
    422: "The Idempotency-Key was already used for a different request (idempotency_error).",
    400: "Invalid request: a parameter is missing, unknown or invalid (see `error.errors`), or the body is not JSON.",
    401: "Missing, malformed, unknown, revoked or expired API key.",
    404: "No such object for this merchant and mode.",
    409: "Conflict: with the object's current state, or a request with this Idempotency-Key is still running.",
    413: "Request body too large.",
    415: "Request body is not application/json.",
    403: "Live payouts are not enabled on this platform (live_payouts_disabled, POST /payouts only), the payout "
    "is over one of the merchant's limits (limit_exceeded, POST /payouts only: `error.limit` says which, the "
    "limit and what remains), or the server refuses the request outright (forbidden).",
    411: "A chunked body the server could not read to its end (length_required); send Content-Length.",
    414: "The URI is longer than 4094 bytes (uri_too_long).",
    417: "An Expect header other than 100-continue (expectation_failed).",
    431: "A header is longer than 8190 bytes, or there are more than 100 (headers_too_large).",
    501: "A transfer coding other than chunked (not_implemented).",
    503: "The database is briefly unavailable (service_unavailable), e.g. during a restart or failover. "
    "Nothing was half-written: retry after `Retry-After` seconds, with the same Idempotency-Key.",
}
# What any request can be answered, whatever the operation: what the server itself refuses (gunicorn:
# payoutsite/http_server.py; and 400 bad_request/invalid_header, which every operation lists) and a
# database outage.
ANY_REQUEST = (403, 414, 417, 431, 501, 503)

READ = (400, 401)
READ_ONE = (400, 401, 404)
WRITE = (400, 401, 409, 413, 415, 422)
WRITE_ONE = (400, 401, 404, 413, 415)
WRITE_ONE_CONFLICT = (400, 401, 404, 409, 413, 415, 422)

NO_NUL = "^[^\\u0000]*$"


def error_responses(statuses: tuple[int, ...]) -> dict[int, OpenApiResponse]:
    """The error responses of an operation: its own statuses, 411 when it takes a body, and ANY_REQUEST."""
    takes_body = 413 in statuses
    every = sorted({*statuses, *ANY_REQUEST, *((411,) if takes_body else ())})
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status]) for status in every}


def page_parameters(id_prefix: str, noun: str) -> list[OpenApiParameter]:
    cursor = {"type": "string", "pattern": f"^{id_prefix}_[A-Za-z0-9]{{24}}$"}
    return [
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
            description=f"Page size, 1–{MAX_LIMIT}.",
        ),
        OpenApiParameter(
            "startingAfter",
            cursor,
            description=f"A {noun} id: return the page after it (older). Not with endingBefore.",
        ),
        OpenApiParameter(
            "endingBefore",
            cursor,
            description=f"A {noun} id: return the page before it (newer). Not with startingAfter.",
        ),
    ]


def created_at_parameters() -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            f"createdAt[{lookup}]",
            {"type": "string", "format": "date-time"},
            description=f"createdAt {lookup} this ISO 8601 time.",
        )
        for lookup in ("gt", "gte", "lt", "lte")
    ]


def idempotency_key_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "Idempotency-Key",
        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
        OpenApiParameter.HEADER,
        description="Retry-safe requests: the same key and request replay the first response "
        "(Idempotent-Replayed: true); another request with the key is a 422; while the first is still "
        "running, a 409. Kept at least 24 hours; a failed request does not use it up.",
    )


def id_parameter(name: str, id_prefix: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, {"type": "string", "pattern": f"^{id_prefix}_[A-Za-z0-9]{{24}}$"}, OpenApiParameter.PATH
    )


# Rules across fields that a serializer cannot declare, added to a component by name (see the hook).
SCHEMA_EXTRAS: dict[str, dict] = {}


def error_extra_properties() -> dict[str, dict]:
    """The keys some errors add to the error object (DomainError(extra=...)), each on one error only: optional."""
    from payouts.models import Payout

    def public_id(prefix: str, description: str) -> dict:
        return {"type": "string", "pattern": f"^{prefix}_[A-Za-z0-9]{{24}}$", "description": description}

    return {
        "bankAccountId": public_id(
            "ba", "On a 409 bank_account_exists: the customer's active account that has this number."
        ),
        "customerId": public_id(
            "cust", "On a 409 customer_external_id_exists: the customer that already has this externalId."
        ),
        "status": {
            "type": "string",
            "enum": [s for s in Payout.Status.values if s not in (Payout.Status.PENDING, Payout.Status.HELD)],
            "description": "On a 409 payout_not_cancelable: the payout's status (only a pending or held one can be "
            "canceled).",
        },
        "limit": {
            "type": "object",
            "description": "On a 403 limit_exceeded (POST /payouts): the limit the payout is over (GET /limits).",
            "properties": {
                "type": {
                    "type": "string",
                    "enum": ["single", "daily", "customer_daily"],
                    "description": "single: one payout's maximum; daily: the merchant's total per day; "
                    "customer_daily: the total to one customer per day (days: Argentina's calendar).",
                },
                "amount": {"type": "string", "example": "100000.00", "description": "The limit."},
                "currency": {"type": "string", "enum": ["ARS"]},
                "used": {"type": "string", "description": "daily, customer_daily: counted today so far."},
                "remaining": {
                    "type": "string",
                    "description": "The largest amount a payout could have under this limit now.",
                },
                "resetsAt": {
                    "type": "string",
                    "format": "date-time",
                    "description": "daily, customer_daily: the next midnight in Argentina.",
                },
            },
            "required": ["type", "amount", "currency", "remaining"],
        },
    }


def postprocess_strict_requests(result, generator, request, public):
    """Request bodies are closed objects: unknown fields are rejected, so the schema says so. The error
    object declares the extra keys some errors carry."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, component in schemas.items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
        component.update(SCHEMA_EXTRAS.get(name, {}))
    if "ErrorDetail" in schemas:
        schemas["ErrorDetail"]["properties"].update(error_extra_properties())
    return result


class MetadataFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "api.serializers.MetadataField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        value = {"type": "string", "maxLength": METADATA_MAX_VALUE_LENGTH, "pattern": NO_NUL}
        if getattr(self.target, "allow_unset", False):
            value = {**value, "nullable": True}
        return {
            "type": "object",
            "maxProperties": METADATA_MAX_KEYS,
            "additionalProperties": value,
            "description": (
                f"Flat string-to-string map: keys 1–{METADATA_MAX_KEY_LENGTH} chars, values up to "
                f"{METADATA_MAX_VALUE_LENGTH} chars, at most {METADATA_MAX_KEYS} keys."
            ),
        }


class ApiAutoSchema(AutoSchema):
    """Our list endpoints answer an explicit envelope ({"data": [...], "hasMore": ...}), documented by its
    own serializer: never wrap a response in a bare array."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class PublicIdFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "api.serializers.PublicIdField"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "pattern": f"^{self.target.prefix}_[A-Za-z0-9]{{24}}$"}
