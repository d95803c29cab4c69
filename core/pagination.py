"""Keyset pagination, newest first, over the internal pk.

A page is `WHERE pk < cursor ORDER BY pk DESC LIMIT n+1` on an index that starts with the scope
columns, so page 4,000 costs what page 1 costs, and rows inserted while a client walks the list land
before its cursor: the walk neither skips nor repeats anyone.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models
from django.db.models import Expression, QuerySet
from django.db.models.expressions import RawSQL

from core.errors import InvalidParameters
from core.ids import is_public_id

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
PAGE_PARAMS = ("limit", "startingAfter", "endingBefore")


@dataclass(frozen=True)
class PageRequest:
    limit: int
    starting_after: str | None
    ending_before: str | None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    has_more: bool


def parse_page_request(params, *, id_prefix: str) -> PageRequest:
    errors = []
    raw_limit = params.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        if raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            errors.append(
                {
                    "param": "limit",
                    "code": "parameter_invalid",
                    "message": f"limit must be an integer from 1 to {MAX_LIMIT}.",
                }
            )
    after, before = params.get("startingAfter"), params.get("endingBefore")
    if after is not None and before is not None:
        errors.append(
            {
                "param": "endingBefore",
                "code": "parameter_conflict",
                "message": "Send startingAfter or endingBefore, not both.",
            }
        )
    for name, value in (("startingAfter", after), ("endingBefore", before)):
        if value is not None and not is_public_id(value, id_prefix):
            errors.append(_unknown_cursor(name, value))
    if errors:
        raise InvalidParameters(errors[0]["message"], param=errors[0]["param"], errors=errors)
    return PageRequest(limit=limit, starting_after=after, ending_before=before)


def _unknown_cursor(name: str, value: str) -> dict[str, str]:
    shown = value if len(value) <= 64 else value[:64] + "…"
    return {"param": name, "code": "cursor_invalid", "message": f"{name} is not a known id: {shown!r}."}


def keyset_page(
    queryset: QuerySet,
    *,
    scope_queryset: QuerySet,
    cursor_pk: Callable[[str], Expression],
    page: PageRequest,
    fields: tuple[str, ...],
    scope_columns: tuple[str, ...] = ("merchant_id", "livemode"),
    scope_values: tuple[Any, ...] | None = None,
) -> Page:
    """One page of `queryset` (already filtered) as dicts of `fields`.

    `cursor_pk(public_id)` is an SQL expression for the pk of that row among the tenant's rows
    (`scope_queryset`); it runs inside the page query. Only when a page comes back empty is it checked
    on its own that the cursor exists.

    Ordering by the scope columns too (fixed by the WHERE, so it changes nothing in the result) makes the
    (scope columns..., id) index the only one that yields rows in order: otherwise PostgreSQL may walk
    the primary key backwards past every newer row of other merchants.

    `scope_values` (the values of `scope_columns` that `scope_queryset` filters on): when given and the page
    asks for no filter (`queryset` is `scope_queryset` itself), the page's SQL is built once per shape and
    reused (`_page_statement`), as core.db does for its INSERTs: a list request pays no ORM query building.
    `cursor_pk` must then return a RawSQL.
    """
    cursor = page.starting_after or page.ending_before
    if scope_values is not None and queryset is scope_queryset:
        rows = _prebuilt_page(queryset.model, fields, scope_columns, scope_values, cursor_pk, page)
    else:
        rows = _orm_page(queryset, cursor_pk, page, fields, scope_columns)
    if cursor is not None and not rows and not scope_queryset.filter(public_id=cursor).exists():
        name = "startingAfter" if page.starting_after else "endingBefore"
        error = _unknown_cursor(name, cursor)
        raise InvalidParameters(error["message"], param=name, errors=[error])
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.ending_before:
        rows.reverse()
    return Page(rows=rows, has_more=has_more)


def _orm_page(queryset: QuerySet, cursor_pk, page: PageRequest, fields, scope_columns) -> list[dict[str, Any]]:
    newest_first = [*scope_columns, "-pk"]
    oldest_first = [f"-{column}" for column in scope_columns] + ["pk"]
    rows_qs = queryset.values(*fields)
    if page.starting_after:
        return list(rows_qs.filter(pk__lt=cursor_pk(page.starting_after)).order_by(*newest_first)[: page.limit + 1])
    if page.ending_before:
        return list(rows_qs.filter(pk__gt=cursor_pk(page.ending_before)).order_by(*oldest_first)[: page.limit + 1])
    return list(rows_qs.order_by(*newest_first)[: page.limit + 1])


def _prebuilt_page(model, fields, scope_columns, scope_values, cursor_pk, page: PageRequest) -> list[dict[str, Any]]:
    """What _orm_page returns for an unfiltered page, with SQL built once (the same text the ORM writes)."""
    params = list(scope_values)
    cursor_sql = None
    if cursor := page.starting_after or page.ending_before:
        expression = cursor_pk(cursor)
        if not isinstance(expression, RawSQL):
            raise TypeError("a prebuilt page needs cursor_pk to return RawSQL")
        cursor_sql = expression.sql
        params += expression.params
    params.append(page.limit + 1)
    statement, converters = _page_statement(model, fields, scope_columns, bool(page.ending_before), cursor_sql)
    with connection.cursor() as db:
        db.execute(statement, params)
        rows = db.fetchall()
    if converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for index, convert, expression in converters:
                row[index] = convert(row[index], expression, connection)
    return [dict(zip(fields, row, strict=True)) for row in rows]


@cache
def _page_statement(
    model: type[models.Model],
    fields: tuple[str, ...],
    scope_columns: tuple[str, ...],
    oldest_first: bool,
    cursor_sql: str | None,
) -> tuple[str, list[tuple[int, Callable, Expression]]]:
    """The page query for one shape (model, columns, direction, cursor subquery), as the ORM writes it for
    `_orm_page`, with the scope values, the cursor's parameters and the LIMIT as parameters; and the
    database converters of its columns (JSON decoding, ...), as the ORM applies them to values()."""
    meta = model._meta
    table = meta.db_table
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return f"{quote(table)}.{quote(name)}"

    selected, converters = [], []
    for index, name in enumerate(fields):
        field = meta.get_field(name)
        col = field.get_col(table)
        selected.append(column(field.column))
        for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            converters.append((index, convert, col))
    where = [f"{column(meta.get_field(name).column)} = %s" for name in scope_columns]
    pk = column(meta.pk.column)
    if cursor_sql is not None:
        where.append(f"{pk} {'>' if oldest_first else '<'} ({cursor_sql})")
    scope_order, pk_order = ("DESC", "ASC") if oldest_first else ("ASC", "DESC")
    order = [f"{column(meta.get_field(name).column)} {scope_order}" for name in scope_columns]
    order.append(f"{pk} {pk_order}")
    # Names from the model's metadata and the selector's own cursor SQL only; every value is a parameter.
    statement = (
        f"SELECT {', '.join(selected)} FROM {quote(table)} WHERE {' AND '.join(where)} "  # noqa: S608
        f"ORDER BY {', '.join(order)} LIMIT %s"
    )
    return statement, converters
