"""Idempotency-Key for every POST of the API.

Protocol, per (merchant, mode, key):
1. The key row is inserted and committed on its own (status in_progress), so that concurrent requests
   with the same key see it.
2. The request's work runs in one transaction that first takes the key row's lock with NOWAIT: a
   second request meanwhile gets 409 idempotency_key_in_use instead of waiting or running twice.
3. A 2xx response is stored in the same transaction as the work it reports, as the exact bytes sent;
   later requests with the key get those bytes back, with `Idempotent-Replayed: true`.
4. Any error rolls the work back and deletes the key row: a request rejected by validation (or a bug)
   does not use up its key. A process that dies mid-request leaves the row in_progress but unlocked;
   the next request with that key takes it over and runs the work, which had not committed.
"""

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

import orjson
from django.db import DatabaseError, IntegrityError, transaction
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
    record = _claim(scope, key, method, path, fingerprint)
    if record.status == IdempotencyKey.Status.COMPLETED:
        return replay(record)
    try:
        with transaction.atomic():
            locked = _lock(record)
            if locked.status == IdempotencyKey.Status.COMPLETED:  # finished while we were claiming
                return replay(locked)
            return _complete(locked, work())
    except IdempotencyKeyInUse:
        raise  # the key belongs to the request that holds it
    except BaseException:
        _release(record)
        raise


def _release(record: IdempotencyKey) -> None:
    """Give the key back after a failed attempt (its work was rolled back): a retry may use it."""
    IdempotencyKey.objects.filter(pk=record.pk, status=IdempotencyKey.Status.IN_PROGRESS).delete()


def _claim(scope: Scope, key: str, method: str, path: str, fingerprint: str) -> IdempotencyKey:
    """The key's row, inserted and committed now if it is new; 422 if it was used for another request."""
    fields = {"request_method": method, "request_path": path, "request_fingerprint": fingerprint}
    try:
        with transaction.atomic():
            record, _ = IdempotencyKey.objects.get_or_create(
                merchant_id=scope.merchant_id, livemode=scope.livemode, key=key, defaults=fields
            )
    except IntegrityError:  # created by a concurrent request between our read and insert
        record = IdempotencyKey.objects.get(merchant_id=scope.merchant_id, livemode=scope.livemode, key=key)
    if (record.request_method, record.request_path, record.request_fingerprint) != (method, path, fingerprint):
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used for a different request (another body or path).",
            param="Idempotency-Key",
        )
    return record


def _lock(record: IdempotencyKey) -> IdempotencyKey:
    try:
        return IdempotencyKey.objects.select_for_update(nowait=True).get(pk=record.pk)
    except DatabaseError:
        raise IdempotencyKeyInUse(
            "A request with this Idempotency-Key is still being processed; retry once it has finished.",
            param="Idempotency-Key",
        ) from None
    except IdempotencyKey.DoesNotExist:  # the first attempt failed and gave the key back
        raise IdempotencyKeyInUse(
            "A request with this Idempotency-Key has just failed; retry it.", param="Idempotency-Key"
        ) from None


def _complete(record: IdempotencyKey, response: Response) -> HttpResponse:
    body = FastJSONRenderer().render(response.data)
    record.status = IdempotencyKey.Status.COMPLETED
    record.response_status = response.status_code
    record.response_body = body.decode()
    record.completed_at = timezone.now()
    record.save(update_fields=["status", "response_status", "response_body", "completed_at"])
    return HttpResponse(body, status=response.status_code, content_type="application/json")


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
