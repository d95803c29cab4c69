"""The base of every API viewset: reads outside transactions, writes inside one, POSTs idempotent."""

from functools import wraps

from django.db import transaction
from rest_framework import viewsets

from api.authentication import request_scope
from core import db
from idempotency.services import parse_key, request_fingerprint, run_idempotently


class ApiViewSet(viewsets.ViewSet):
    # False on routes that take a POST: see as_view. The error handler reads it.
    request_is_atomic = True

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        has_post = bool(actions and "post" in actions)
        view = super().as_view(actions, request_is_atomic=not has_post, **initkwargs)
        if has_post:
            # A POST decides its own transactions (@idempotent): its writes and its Idempotency-Key row
            # commit together, and creations need no explicit transaction at all.
            view = transaction.non_atomic_requests(view)
        return view


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
