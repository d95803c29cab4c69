"""Keyset pagination, newest first, over the internal pk.

A page is `WHERE pk < cursor ORDER BY pk DESC LIMIT n+1` on an index that starts with the scope
columns, so page 4,000 costs what page 1 costs, and rows inserted while a client walks the list land
before its cursor: the walk neither skips nor repeats anyone.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Expression, QuerySet

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
) -> Page:
    """One page of `queryset` (already filtered) as dicts of `fields`.

    `cursor_pk(public_id)` is an SQL expression for the pk of that row among the tenant's rows
    (`scope_queryset`); it runs inside the page query. Only when a page comes back empty is it checked
    on its own that the cursor exists.

    Ordering by the scope columns too (fixed by the WHERE, so it changes nothing in the result) makes the
    (scope columns..., id) index the only one that yields rows in order: otherwise PostgreSQL may walk
    the primary key backwards past every newer row of other merchants.
    """
    newest_first = [*scope_columns, "-pk"]
    oldest_first = [f"-{column}" for column in scope_columns] + ["pk"]
    cursor = page.starting_after or page.ending_before
    rows_qs = queryset.values(*fields)
    if cursor is None:
        rows = list(rows_qs.order_by(*newest_first)[: page.limit + 1])
    else:
        if page.starting_after:
            rows = list(rows_qs.filter(pk__lt=cursor_pk(cursor)).order_by(*newest_first)[: page.limit + 1])
        else:
            rows = list(rows_qs.filter(pk__gt=cursor_pk(cursor)).order_by(*oldest_first)[: page.limit + 1])
        if not rows and not scope_queryset.filter(public_id=cursor).exists():
            name = "startingAfter" if page.starting_after else "endingBefore"
            error = _unknown_cursor(name, cursor)
            raise InvalidParameters(error["message"], param=name, errors=[error])
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.ending_before:
        rows.reverse()
    return Page(rows=rows, has_more=has_more)
