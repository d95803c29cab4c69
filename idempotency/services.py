"""Idempotency-Key for every POST of the API.

Per (merchant, mode, key):
1. In one statement, read the key's stored response and, when there is none, take an advisory lock on the
   key without waiting. A stored response is replayed byte for byte with `Idempotent-Replayed: true`,
   unless it was for a different request (422). A lock held elsewhere means that request is still
   running: 409 idempotency_key_in_use.
2. Run the work, and store its 2xx response, as the exact bytes sent, with the work's own writes, all or
   nothing: a request rejected by validation (or a bug) does not use up its key, and a process that dies
   mid-request leaves nothing behind to clean up.

Two ways to run it. Work that writes only through its write batch (creating customers, bank accounts,
payouts: core.db) runs without an explicit transaction: the lock is the session's, and the batch
ends with the key's row and the unlock, all in the batch's one transaction; an error releases the lock
on the way out. Other work (cancel, which locks the payout row) runs in a transaction, under a
transaction-scoped lock.

The unique index on (merchant, mode, key) is the guard behind the lock. A request with the same key can
finish a moment before this one's lock is granted yet after its read (the read's snapshot predates the
lock; and a batch's unlock runs just before its commit). Then this one does the work again, and either
fails to store its key (its writes roll back, and it runs again: core.db.retry_on_lost_race) or
stops on a check that sees the twin's work (409 account exists, payout not cancelable); either way it
then finds the twin's stored response and replays it.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import orjson
from django.db import connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.response import Response

from api.renderers import FastJSONRenderer
from core import db
from core.errors import DomainError
from core.scope import Scope
from idempotency.errors import IdempotencyKeyInUse, IdempotencyKeyInvalid, IdempotencyMismatch
from idempotency.models import IdempotencyKey

KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
REPLAYED_HEADER = "Idempotent-Replayed"
MINIMUM_RETENTION = timedelta(hours=24)


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
    *,
    scope: Scope,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
    work: Callable[[], Response],
    batched: bool,
) -> HttpResponse:
    request = (method, path, fingerprint)
    run = _run_batched if batched else _run_in_transaction
    try:
        return db.retry_on_lost_race(lambda: run(scope, key, request, work))
    except DomainError:
        # A twin with this key may have finished while this one ran, and this one's checks saw the twin's
        # work (an account already there, a payout already canceled, a key no longer busy): answer as a
        # retry after it would, with its stored response.
        stored = _find(scope, key, lock=NO_LOCK)
        if stored is not None and stored.request == request:
            return replay(stored)
        raise


def _run_batched(scope: Scope, key: str, request: tuple, work: Callable[[], Response]) -> HttpResponse:
    stored = _find(scope, key, lock=SESSION_LOCK)
    if stored is not None:
        return _replay_if_same(stored, request)
    released = False
    try:
        with db.write_batch():
            with db.batch_only():
                response = work()
            body = _store(scope, key, request, response)
            _unlock(scope, key)  # the batch's last statement
        released = True
    finally:
        if not released:
            _unlock(scope, key)
    return HttpResponse(body, status=response.status_code, content_type="application/json")


def _run_in_transaction(scope: Scope, key: str, request: tuple, work: Callable[[], Response]) -> HttpResponse:
    with transaction.atomic():
        stored = _find(scope, key, lock=TRANSACTION_LOCK)
        if stored is not None:
            return _replay_if_same(stored, request)
        with db.write_batch():
            response = work()
            body = _store(scope, key, request, response)
    return HttpResponse(body, status=response.status_code, content_type="application/json")


def _store(scope: Scope, key: str, request: tuple, response: Response) -> bytes:
    """Keep the response for replays, without the fields the view marked never_stored (a secret shown
    once is not kept in clear here: a replay shows it as null)."""
    body = FastJSONRenderer().render(response.data)
    kept = body
    if hidden := getattr(response, "never_stored", ()):
        kept = FastJSONRenderer().render({**response.data, **dict.fromkeys(hidden)})
    method, path, fingerprint = request
    db.insert(
        IdempotencyKey(
            merchant_id=scope.merchant_id,
            livemode=scope.livemode,
            key=key,
            request_method=method,
            request_path=path,
            request_fingerprint=fingerprint,
            response_status=response.status_code,
            response_body=kept.decode(),
        )
    )
    return body


def _replay_if_same(stored: "StoredResponse", request: tuple) -> HttpResponse:
    if stored.request != request:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used for a different request (another body or path).",
            param="Idempotency-Key",
        )
    return replay(stored)


def advisory_lock_id(scope: Scope, key: str) -> int:
    """The key's lock. Two keys sharing one (odds 2**-64) would only see 409s while the other runs."""
    return db.advisory_lock_id(scope.merchant_id, scope.livemode, key)


@dataclass(frozen=True)
class StoredResponse:
    request: tuple[str, str, str]  # method, path, fingerprint
    status: int
    body: str


# Step 1, in one round trip: the stored response, and the lock when there is none.
SESSION_LOCK, TRANSACTION_LOCK, NO_LOCK = "session", "transaction", "none"
FIND_AND_LOCK = {
    SESSION_LOCK: """
        SELECT CASE WHEN k.key IS NULL THEN pg_try_advisory_lock(%s) ELSE TRUE END,
               k.request_method, k.request_path, k.request_fingerprint, k.response_status, k.response_body
          FROM (SELECT 1) AS one
          LEFT JOIN idempotency_idempotencykey k ON k.merchant_id = %s AND k.livemode = %s AND k.key = %s
    """,
    TRANSACTION_LOCK: """
        SELECT CASE WHEN k.key IS NULL THEN pg_try_advisory_xact_lock(%s) ELSE TRUE END,
               k.request_method, k.request_path, k.request_fingerprint, k.response_status, k.response_body
          FROM (SELECT 1) AS one
          LEFT JOIN idempotency_idempotencykey k ON k.merchant_id = %s AND k.livemode = %s AND k.key = %s
    """,
}
FIND_ONLY = """
    SELECT %s IS NOT NULL, k.request_method, k.request_path, k.request_fingerprint, k.response_status,
           k.response_body
      FROM (SELECT 1) AS one
      LEFT JOIN idempotency_idempotencykey k ON k.merchant_id = %s AND k.livemode = %s AND k.key = %s
"""


def _find(scope: Scope, key: str, *, lock: str) -> StoredResponse | None:
    statement = FIND_AND_LOCK.get(lock, FIND_ONLY)
    with connection.cursor() as cursor:
        cursor.execute(statement, [advisory_lock_id(scope, key), scope.merchant_id, scope.livemode, key])
        locked, method, path, fingerprint, status, body = cursor.fetchone()
    if not locked:
        raise IdempotencyKeyInUse(
            "A request with this Idempotency-Key is still being processed; retry once it has finished.",
            param="Idempotency-Key",
        )
    return None if method is None else StoredResponse((method, path, fingerprint), status, body)


def _unlock(scope: Scope, key: str) -> None:
    """Queued in a batch (released with its writes); run at once outside one."""
    db.execute("SELECT pg_advisory_unlock(%s)", (advisory_lock_id(scope, key),))


def replay(stored: StoredResponse) -> HttpResponse:
    response = HttpResponse(stored.body.encode(), status=stored.status, content_type="application/json")
    response[REPLAYED_HEADER] = "true"
    return response


def idempotency_keys_purge(*, older_than: timedelta = MINIMUM_RETENTION) -> int:
    """Delete keys created before now - older_than (never less than 24 hours); returns how many."""
    cutoff = timezone.now() - max(older_than, MINIMUM_RETENTION)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
