"""Database helpers for the API's write paths.

Write batches. On a write request most of the time is round trips to PostgreSQL, not work done there. A
request's writes rarely need an answer back (ids are made in Python, and the response is built from the
objects in hand), so `write_batch()` collects them and sends them as one multi-statement query when the
block ends. That query is one transaction by itself: PostgreSQL runs the statements of one simple-query
message as a single implicit transaction (inside an explicit transaction, it simply joins it). So a request
that reads, then writes only through a batch, needs no BEGIN and no COMMIT round trips, and still writes
all or nothing. A batch inside a batch joins it. What a batch defers cannot be read back before the block
ends. Outside a batch (commands, the admin, the worker) `insert`, `update` and `execute` run at once.

Deferred writes go through the ORM's own SQL compiler, but not through Model.save(): no model signals.

`batch_only()` guards that promise, failing closed: inside it, any statement but a read sent outside the
batch raises, so a change that
would split a request's writes into several transactions fails its tests instead of landing.

Lost races. The database's unique indexes are the last guard of every "only once" rule. A request that
loses a race to one (two parallel requests with the same Idempotency-Key, or adding the same account number
to one customer) gets an IntegrityError when its writes are sent; `retry_on_lost_race` runs it again, once,
where the checks see the winner and answer as they would have sequentially.
"""

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, models, transaction
from django.db.models import sql

UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE for unique_violation

_batch: ContextVar[list[tuple[str, tuple]] | None] = ContextVar("write_batch", default=None)


@contextmanager
def write_batch() -> Iterator[None]:
    if _batch.get() is not None:  # joins the enclosing batch
        yield
        return
    statements: list[tuple[str, tuple]] = []
    token = _batch.set(statements)
    try:
        yield
    finally:
        _batch.reset(token)
    _send(statements)  # only when the block succeeded: after an error there is nothing to undo


def _send(statements: list[tuple[str, tuple]]) -> None:
    if not statements:
        return
    if connection.in_atomic_block:
        # Inside someone's transaction (a command's, a test's), a savepoint lets a lost race undo just
        # this batch.
        with transaction.atomic():
            _execute(statements)
    else:
        _execute(statements)  # one simple-query message: one transaction (see above)


def _execute(statements: list[tuple[str, tuple]]) -> None:
    with connection.cursor() as cursor:
        # psycopg2 binds parameters client-side, so this is one message, its statements run in order. It opens
        # with a comment: pghistory puts the audit context in front of a message unless it starts with SELECT,
        # which a batch's first statement may be (a function that writes: limits_consume), and without that
        # context every audit row of the batch would have no actor.
        statement = "-- write batch\n" + ";\n".join(s for s, _ in statements)
        try:
            cursor.execute(statement, [p for _, params in statements for p in params])
        except DatabaseError as error:
            if convert := _refusals.get(sqlstate(error)):
                raise convert(_detail(error)) from error
            raise


# Refusals. A batched statement may say "no" itself (a payout over a limit: limits/sql.py) by raising an
# SQLSTATE of its own with the details in DETAIL; the batch's transaction rolls back whole, and the app that
# owns the SQLSTATE turns it into its domain error here, wherever the batch happens to be sent.
_refusals: dict[str, Callable[[str], Exception]] = {}


def register_refusal(state: str, convert: Callable[[str], Exception]) -> None:
    """Raise convert(DETAIL) instead of the database error when a write batch fails with SQLSTATE `state`."""
    _refusals[state] = convert


def _detail(error: BaseException) -> str:
    diag = getattr(error.__cause__ or error, "diag", None)
    return (getattr(diag, "message_detail", None) or "") if diag is not None else ""


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


def insert_where(obj: models.Model, condition: str, params: tuple) -> None:
    """INSERT one new model instance only where `condition` (SQL, with its own params) holds when the
    statement runs; batched like insert()."""
    statement, fields = _insert_statement(type(obj))
    head, values = statement.split(" VALUES ", 1)
    values_params = tuple(
        field.get_db_prep_save(field.pre_save(obj, add=True), connection=connection) for field in fields
    )
    _run(f"{head} SELECT {values.strip()[1:-1]} WHERE {condition}", values_params + tuple(params))


@cache
def _insert_statement(model: type[models.Model]) -> tuple[str, tuple[models.Field, ...]]:
    """The ORM's own INSERT for the model, built once (its text does not depend on the values)."""
    meta = model._meta
    fields = tuple(field for field in meta.local_concrete_fields if field is not meta.auto_field)
    query = sql.InsertQuery(model)
    query.insert_values(fields, [model()])
    ((statement, _),) = query.get_compiler(connection=connection).as_sql()
    return statement, fields


def execute(statement: str, params: tuple) -> None:
    """A write written as SQL, batched like the others."""
    _run(statement, params)


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


def delete(queryset: models.QuerySet) -> None:
    """queryset.delete() as one plain DELETE (no cascade collection, no signals), batched like the others."""
    query = queryset.query.chain(sql.DeleteQuery)
    statement, params = query.get_compiler(connection=connection).as_sql()
    _run(statement, tuple(params))


# What the audit trail (django-pghistory) puts in front of a write statement to carry its actor.
_ACTOR_PREFIX = "SELECT set_config('pghistory.context_id'"
_ACTOR_END = "true); "


def without_actor(statement: str) -> str:
    """The statement as written, without the actor pghistory prepended to it."""
    if statement.startswith(_ACTOR_PREFIX):
        return statement.split(_ACTOR_END, 1)[1]
    return statement


class WriteOutsideBatch(RuntimeError):
    """A write sent on its own where a request promised to write only through its batch."""


# What may run on its own inside batch_only(): reads. It fails closed: anything else (INSERT, UPDATE, DELETE,
# a CTE, COPY, SET, a DO block…) is refused, whatever it would do. What it cannot see is a SELECT calling a
# function that writes (ours: customers_flag_shared_number, only ever queued in a batch).
READ_VERBS = frozenset({"SELECT", "SHOW"})
_LEADING_NOISE = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


def first_keyword(statement: str) -> str:
    """The statement's first word, upper case, past pghistory's actor, whitespace and comments."""
    text = without_actor(statement)
    text = text[_LEADING_NOISE.match(text).end() :]
    return text.split(None, 1)[0].upper() if text.strip() else ""


@contextmanager
def batch_only() -> Iterator[None]:
    """Reads run as they come; anything else sent before the batch is refused (see the module doc)."""

    def refuse_all_but_reads(execute, statement, params, many, context):
        if first_keyword(statement) not in READ_VERBS:
            raise WriteOutsideBatch(f"not a read, outside the request's batch: {statement[:80]}")
        return execute(statement, params, many, context)

    with connection.execute_wrapper(refuse_all_but_reads):
        yield


def sqlstate(error: BaseException) -> str:
    """PostgreSQL's SQLSTATE of a database error, whichever driver raised it (psycopg2: pgcode; psycopg 3:
    sqlstate), or "" when there is none (e.g. the connection never opened)."""
    cause = error.__cause__ or error
    return getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None) or ""


def is_unique_violation(error: IntegrityError) -> bool:
    return sqlstate(error) == UNIQUE_VIOLATION


QUERY_CANCELED = "57014"  # statement_timeout (or a cancel request) stopped the statement


def is_query_canceled(error: BaseException) -> bool:
    return isinstance(error, DatabaseError) and sqlstate(error) == QUERY_CANCELED


@contextmanager
def statement_timeout(seconds: float, *, local: bool = False) -> Iterator[None]:
    """PostgreSQL cancels any statement run inside that takes longer than `seconds`: it stops in the
    database, not only in this process. `local`: for the current transaction only (it ends with it);
    otherwise reset on the way out, so the next user of a persistent connection does not inherit it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, %s)", [f"{round(seconds * 1000)}ms", local])
    try:
        yield
    finally:
        if not local:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")
            except DatabaseError:
                connection.close()  # never handed on with the timeout still set


# Connection exceptions, operator intervention (shutdown, "cannot connect now", a cancelled statement), a
# read-only node met during a failover, and lost serialization races and deadlocks: all pass; retrying is
# right. (Class 08, class 57, 25006, 40001, 40P01.)
TRANSIENT_SQLSTATE_CLASSES = ("08", "57")
TRANSIENT_SQLSTATES = {"25006", "40001", "40P01"}


def is_transient(error: BaseException) -> bool:
    """Whether a database error is the database being briefly unavailable, not a bug: the API answers 503
    to retry, the workers back off and carry on."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    if not isinstance(error, DatabaseError):
        return False
    state = sqlstate(error)
    return state[:2] in TRANSIENT_SQLSTATE_CLASSES or state in TRANSIENT_SQLSTATES


def copy_in(cursor, statement: str, data: io.TextIOBase, *, chunk_size: int = 1 << 16) -> None:
    """COPY … FROM STDIN with whichever driver Django runs on (psycopg2: copy_expert; psycopg 3: copy())."""
    raw = cursor.cursor  # the driver's own cursor under Django's wrapper
    if hasattr(raw, "copy_expert"):
        raw.copy_expert(statement, data, chunk_size)
        return
    with raw.copy(statement) as copy:
        while chunk := data.read(chunk_size):
            copy.write(chunk)


def advisory_lock_id(*parts: object) -> int:
    """A 64-bit PostgreSQL advisory lock id for a tuple of values (collisions: odds 2**-64)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def retry_on_lost_race[T](run: Callable[[], T]) -> T:
    """Run a request's work; if it lost a race to a unique index, run it once more (see the module doc)."""
    try:
        return run()
    except IntegrityError as error:
        if not is_unique_violation(error):
            raise
        return run()
