"""Domain errors: what went wrong, in terms an integration can act on (a stable code, a message for
humans, the parameter at fault, per-field errors, and documented extra keys), and nothing of HTTP.

Services, selectors and the core raise these. The HTTP layer (api/errors.py) is the one place that
turns them into responses: it gives each kind its status and error type.
"""

from typing import Any

# Django's and DRF's validation codes mapped to our stable, documented ones.
FIELD_CODES = {
    "required": "parameter_missing",
    "blank": "parameter_blank",
    "null": "parameter_null",
    "max_length": "parameter_too_long",
    "min_length": "parameter_too_short",
    "invalid_choice": "parameter_invalid_choice",
    "invalid": "parameter_invalid",
    "null_characters_not_allowed": "parameter_invalid_characters",
    "surrogate_characters_not_allowed": "parameter_invalid_characters",
    "not_a_dict": "parameter_invalid",
    "invalid_type": "parameter_invalid_type",
    "not_a_list": "parameter_invalid_type",
    "empty": "parameter_too_short",
}


class DomainError(Exception):
    """Base of every domain error. Subclasses set `code`; the kinds below say what sort of "no" it is."""

    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.param = param
        self.errors = errors or []
        self.extra = extra or {}  # documented extra keys of the error object, e.g. bankAccountId on a 409


class InvalidParameters(DomainError):
    """The request's parameters are wrong; `errors` says which and why."""

    code = "parameter_invalid"

    @classmethod
    def single(cls, param: str | None, code: str, message: str) -> "InvalidParameters":
        return cls(message, param=param, errors=[{"param": param, "code": code, "message": message}])


class ResourceMissing(DomainError):
    """No such object for this merchant and mode (or one it may not see: the same answer)."""

    code = "resource_missing"


class Conflict(DomainError):
    """The request conflicts with the object's current state."""

    code = "conflict"


class NotPermitted(DomainError):
    """The platform does not allow this for this merchant or mode."""

    code = "not_permitted"


class Mismatch(DomainError):
    """The request contradicts an earlier one it claims to repeat."""

    code = "mismatch"


class NotAuthenticated(DomainError):
    """The credentials are missing, malformed, unknown, revoked or expired."""

    code = "api_key_invalid"
