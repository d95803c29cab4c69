"""The base of every API viewset, and the one transaction rule of the API, by HTTP method:

- GET: no transaction. A read is one statement (plus the key's lookup), consistent on its own.
- PATCH and DELETE: the whole request in one transaction (ApiViewSet.dispatch); an error rolls it back.
- POST: through @idempotent. Creations (batched=True) send their writes, with their Idempotency-Key row, as
  one batch that PostgreSQL runs as one transaction (core/db.py: no BEGIN/COMMIT round trips); other POSTs
  (cancel) run in one transaction with their key's row.

ATOMIC_REQUESTS is off: nothing depends on which routes share a URL pattern.
"""

from functools import wraps

from django.db import transaction
from rest_framework import viewsets

from api.authentication import request_scope
from core import db
from idempotency.services import parse_key, request_fingerprint, run_idempotently


class ApiViewSet(viewsets.ViewSet):
    ATOMIC_METHODS = frozenset({"PATCH", "PUT", "DELETE"})
    # True while dispatch holds the request's transaction: the error handler then rolls it back.
    in_request_transaction = False

    def dispatch(self, request, *args, **kwargs):
        if request.method not in self.ATOMIC_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            self.in_request_transaction = True
            return super().dispatch(request, *args, **kwargs)


def idempotent(action=None, *, batched: bool = False):
    """For POST actions: honour an Idempotency-Key header (idempotency.services). batched=True for
    actions that write only through their write batch: they run without an explicit transaction (no
    BEGIN/COMMIT round trips), their writes one transaction by themselves (core.db); the others
    run in a transaction. Either way a request that loses a race to a unique index runs once more."""
    if action is None:
        return lambda action: idempotent(action, batched=batched)

    @wraps(action)
    def wrapper(view, request, *args, **kwargs):
        def work():
            return action(view, request, *args, **kwargs)

        raw_key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if raw_key is None:
            return db.retry_on_lost_race(lambda: _batched(work) if batched else _in_one_transaction(work))
        key = parse_key(raw_key)
        method, path = request.method, request.path
        body = request.body  # the raw bytes (Django caches them); DRF parses the same bytes afterwards
        return run_idempotently(
            scope=request_scope(request),
            key=key,
            method=method,
            path=path,
            fingerprint=request_fingerprint(method, path, body),
            work=work,
            batched=batched,
        )

    wrapper.idempotent = True
    return wrapper


def _batched(work):
    with db.write_batch():
        with db.batch_only():
            return work()


def _in_one_transaction(work):
    with transaction.atomic(), db.write_batch():
        return work()
