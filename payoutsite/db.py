"""Database helpers for the API's write paths.

Write batches. On a write request most of the time is round trips to PostgreSQL, not work done there. A
request's last writes rarely need an answer back (ids are made in Python, and the response is built from
the objects in hand), so `write_batch()` collects them and sends them as one multi-statement query when the
block ends, inside the caller's transaction: one round trip instead of one per statement. Statements run
in order and in the same transaction, so an error in any of them still rolls the whole request back. What
a batch defers cannot be read back before the block ends; use it for a request's final writes only.
Outside a batch (commands, the admin, the worker) `insert` and `update` run at once.

Deferred writes go through the ORM's own SQL compiler, but not through Model.save(): no model signals.

Lost races. The database's unique indexes are the last guard of every "only once" rule. A request that
loses a race to one (two parallel requests with the same Idempotency-Key, or adding the same account number
to one customer) gets an IntegrityError at commit time; `retry_on_lost_race` runs it again, once, in a new
transaction, where the checks see the winner and answer as they would have sequentially.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connection, models
from django.db.models import sql

UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE for unique_violation

_batch: ContextVar[list[tuple[str, tuple]] | None] = ContextVar("write_batch", default=None)


@contextmanager
def write_batch() -> Iterator[None]:
    statements: list[tuple[str, tuple]] = []
    token = _batch.set(statements)
    try:
        yield
    finally:
        _batch.reset(token)
    _send(statements)  # only when the block succeeded: an error rolls back, and nothing is left to send


def _send(statements: list[tuple[str, tuple]]) -> None:
    if not statements:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(statements) > 1:
            # psycopg2 binds parameters client-side, so this is one simple-query message, run in order.
            cursor.execute(";\n".join(s for s, _ in statements), [p for _, params in statements for p in params])
        else:
            for statement, params in statements:  # SQLite takes one statement per call
                cursor.execute(statement, params)


def _run(statement: str, params: tuple) -> None:
    batch = _batch.get()
    if batch is None:
        _send([(statement, params)])
    else:
        batch.append((statement, params))


def insert(obj: models.Model) -> None:
    """INSERT one new model instance. In a batch its primary key stays unset (use its public id)."""
    if _batch.get() is None:
        obj.save(force_insert=True)
        return
    statement, fields = _insert_statement(type(obj))
    # What the ORM's insert compiler does per value, without rebuilding the statement every time.
    params = tuple(field.get_db_prep_save(field.pre_save(obj, add=True), connection=connection) for field in fields)
    _run(statement, params)


@cache
def _insert_statement(model: type[models.Model]) -> tuple[str, tuple[models.Field, ...]]:
    """The ORM's own INSERT for the model, built once (its text does not depend on the values)."""
    meta = model._meta
    fields = tuple(field for field in meta.local_concrete_fields if field is not meta.auto_field)
    query = sql.InsertQuery(model)
    query.insert_values(fields, [model()])
    ((statement, _),) = query.get_compiler(connection=connection).as_sql()
    return statement, fields


def update(queryset: models.QuerySet, **values) -> None:
    """queryset.update(**values), without the count of rows changed."""
    query = queryset.query.chain(sql.UpdateQuery)
    query.add_update_values(values)
    try:
        statement, params = query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:  # e.g. pk__in=[]: nothing to update
        return
    if statement:
        _run(statement, tuple(params))


def is_unique_violation(error: IntegrityError) -> bool:
    return getattr(error.__cause__, "pgcode", None) == UNIQUE_VIOLATION


def retry_on_lost_race[T](run: Callable[[], T]) -> T:
    """Run a transaction; if it lost a race to a unique index, run it once more (see the module doc)."""
    try:
        return run()
    except IntegrityError as error:
        if not is_unique_violation(error):
            raise
        return run()
