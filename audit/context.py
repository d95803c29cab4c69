"""Who made a change. Every tracked write (customers, bank accounts, payouts, merchants and their keys) is
recorded by a PostgreSQL trigger (django-pghistory) with the actor set here: the API key's display prefix,
the staff user, or the management command. Nothing else needs to remember to write an audit row, and bulk
writes (COPY, INSERT … SELECT, queryset updates) are captured like single ones.

The actor travels with each write statement (pghistory prepends a `set_config` to it), so it also reaches
the request's one-message write batches (core/db.py).
"""

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pghistory
import pghistory.runtime


@contextmanager
def actor(name: str, **details: Any) -> Iterator[None]:
    """Record `name` (e.g. "command:import_customers") as the actor of every write in the block."""
    with pghistory.context(actor=name, **details):
        yield


def set_actor(name: str, **details: Any) -> None:
    """Name the actor of the block already entered (a request's, opened by AuditMiddleware)."""
    pghistory.context(actor=name, **details)


def command_actor(handle: Callable) -> Callable:
    """Decorates a management command's handle(): its writes are recorded as "command:<its name>"."""

    @functools.wraps(handle)
    def run(command, *args, **options):
        with actor(f"command:{command.__module__.rsplit('.', 1)[-1]}"):
            return handle(command, *args, **options)

    return run


def current() -> Any:
    """This thread's audit context (None outside one), for joined() in another thread."""
    return getattr(pghistory.runtime._tracker, "value", None)


@contextmanager
def joined(context: Any) -> Iterator[None]:
    """In another thread (pghistory's context is the thread's own): record the writes in the block with the
    actor and details of `context` (from current() in the thread that opened it), under a context id of
    their own. Two connections writing under one id would wait for each other: every audited write
    upserts its id's pghistory_context row, which stays locked until its transaction ends."""
    if context is None:
        yield
        return
    with pghistory.context(**dict(context.metadata)):
        yield
