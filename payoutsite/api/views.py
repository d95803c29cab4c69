"""The base of every API viewset: reads outside transactions, writes inside one, POSTs idempotent."""

from functools import wraps

from django.db import transaction
from rest_framework import viewsets

from idempotency.services import parse_key, request_fingerprint, run_idempotently
from payoutsite import db
from payoutsite.api.authentication import request_scope


class ApiViewSet(viewsets.ViewSet):
    # False on routes that take a POST: see as_view. The error handler reads it.
    request_is_atomic = True

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        has_post = bool(actions and "post" in actions)
        view = super().as_view(actions, request_is_atomic=not has_post, **initkwargs)
        if has_post:
            # A POST commits its Idempotency-Key row before its work starts (see idempotency.services),
            # so it cannot run inside the request-wide transaction; @idempotent opens its own.
            view = transaction.non_atomic_requests(view)
        return view


def idempotent(action):
    """For POST actions: honour an Idempotency-Key header; without one, run in one transaction. Either way
    the action's last writes go out in one batch, and a request that loses a race to a unique index runs
    once more (payoutsite.db)."""

    @wraps(action)
    def wrapper(view, request, *args, **kwargs):
        raw_key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if raw_key is None:
            return db.retry_on_lost_race(lambda: _in_one_transaction(action, view, request, *args, **kwargs))
        key = parse_key(raw_key)
        method, path = request.method, request.path
        body = request.body  # the raw bytes (Django caches them); DRF parses the same bytes afterwards
        return run_idempotently(
            scope=request_scope(request),
            key=key,
            method=method,
            path=path,
            fingerprint=request_fingerprint(method, path, body),
            work=lambda: action(view, request, *args, **kwargs),
        )

    wrapper.idempotent = True
    return wrapper


def _in_one_transaction(action, view, request, *args, **kwargs):
    with transaction.atomic(), db.write_batch():
        return action(view, request, *args, **kwargs)
