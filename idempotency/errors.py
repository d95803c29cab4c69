"""The Idempotency-Key's errors (their error type is idempotency_error: api/errors.py)."""

from core.errors import Conflict, DomainError, Mismatch


class IdempotencyError(DomainError):
    """A request that cannot run because of its Idempotency-Key's history."""


class IdempotencyKeyInvalid(DomainError):
    code = "idempotency_key_invalid"


class IdempotencyMismatch(IdempotencyError, Mismatch):
    code = "idempotency_error"


class IdempotencyKeyInUse(IdempotencyError, Conflict):
    code = "idempotency_key_in_use"
