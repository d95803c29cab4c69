"""Idempotency-Key for every POST of the API.

Protocol, per (merchant, mode, key), all in the request's one transaction:
1. Take a transaction-scoped advisory lock on the key without waiting: if another request holds it,
   that request is still running, and this one gets 409 idempotency_key_in_use.
2. Holding the lock, look the key up (a new statement, so it sees anything committed before): a
   stored response is replayed byte for byte with `Idempotent-Replayed: true`, unless it was for a
   different request (422).
3. Run the work, and store its 2xx response, as the exact bytes sent, in the same transaction.
Any error rolls everything back, key included: a request rejected by validation (or a bug) does not use
up its key, and a process that dies mid-request leaves nothing behind to clean up. The unique index on
(merchant, mode, key) is the database's own guard behind the lock.
"""

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

import orjson
from django.db import connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.response import Response

from idempotency.models import IdempotencyKey
from merchants.models import Scope
from payoutsite.api.errors import ApiError, Conflict
from payoutsite.api.renderers import FastJSONRenderer

KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
REPLAYED_HEADER = "Idempotent-Replayed"
MINIMUM_RETENTION = timedelta(hours=24)


class IdempotencyKeyInvalid(ApiError):
    code = "idempotency_key_invalid"


class IdempotencyMismatch(ApiError):
    status = 422
    type = "idempotency_error"
    code = "idempotency_error"


class IdempotencyKeyInUse(Conflict):
    type = "idempotency_error"
    code = "idempotency_key_in_use"


def parse_key(raw: str) -> str:
    if not KEY_PATTERN.fullmatch(raw):
        raise IdempotencyKeyInvalid(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.", param="Idempotency-Key"
        )
    return raw


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests 'the same': method, path and body, the body compared as JSON when it is
    JSON (so key order and spacing do not matter) and as bytes otherwise."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(method.encode() + b"\0" + path.encode() + b"\0" + canonical).hexdigest()


def run_idempotently(
    *, scope: Scope, key: str, method: str, path: str, fingerprint: str, work: Callable[[], Response]
) -> HttpResponse:
    with transaction.atomic():
        _lock(scope, key)
        record = (
            IdempotencyKey.objects.filter(merchant_id=scope.merchant_id, livemode=scope.livemode, key=key)
            .only("request_method", "request_path", "request_fingerprint", "response_status", "response_body")
            .first()
        )
        if record is not None:
            if (record.request_method, record.request_path, record.request_fingerprint) != (method, path, fingerprint):
                raise IdempotencyMismatch(
                    "This Idempotency-Key was already used for a different request (another body or path).",
                    param="Idempotency-Key",
                )
            return replay(record)
        response = work()
        body = FastJSONRenderer().render(response.data)
        IdempotencyKey.objects.create(
            merchant_id=scope.merchant_id,
            livemode=scope.livemode,
            key=key,
            request_method=method,
            request_path=path,
            request_fingerprint=fingerprint,
            response_status=response.status_code,
            response_body=body.decode(),
        )
        return HttpResponse(body, status=response.status_code, content_type="application/json")


def advisory_lock_id(scope: Scope, key: str) -> int:
    """A 64-bit lock id for the key. Two keys sharing one (odds 2**-64) would only see 409s while the
    other runs."""
    digest = hashlib.blake2b(f"{scope.merchant_id}:{scope.livemode}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock(scope: Scope, key: str) -> None:
    if not connection.features.has_select_for_update:
        return  # SQLite (make run): one writer at a time already
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [advisory_lock_id(scope, key)])
        (locked,) = cursor.fetchone()
    if not locked:
        raise IdempotencyKeyInUse(
            "A request with this Idempotency-Key is still being processed; retry once it has finished.",
            param="Idempotency-Key",
        )


def replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        record.response_body.encode(), status=record.response_status, content_type="application/json"
    )
    response[REPLAYED_HEADER] = "true"
    return response


def idempotency_keys_purge(*, older_than: timedelta = MINIMUM_RETENTION) -> int:
    """Delete keys created before now - older_than (never less than 24 hours); returns how many."""
    cutoff = timezone.now() - max(older_than, MINIMUM_RETENTION)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
