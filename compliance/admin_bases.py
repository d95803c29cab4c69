"""Admin bases for the back-office: staff look here; every change goes through the services."""

import base64
import binascii
import json
import re

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import BadRequest, FieldDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.functional import cached_property

from core.search import MIN_TEXT, Kind, Term, parse_term


class EstimatedCountPaginator(Paginator):
    """Counts a changelist exactly while it is small; past EXACT_UP_TO rows it takes PostgreSQL's planner
    estimate instead, so a list of millions of rows does not scan them all on every page (the admin shows
    the count, so the last page number is approximate there)."""

    EXACT_UP_TO = 20_000

    @cached_property
    def count(self) -> int:
        estimate = planner_estimate(self.object_list)
        return super().count if estimate < self.EXACT_UP_TO else estimate


def planner_estimate(queryset) -> int:
    """How many rows PostgreSQL expects the query to return: planned, not run."""
    statement, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, params)
        (plan,) = cursor.fetchone()  # psycopg2 decodes the json
    return int(plan[0]["Plan"]["Plan Rows"])


ROW_ID = re.compile(r"[0-9]{1,18}")  # 18 digits always fit a bigint


def row_id(value: str | None) -> int | None:
    """A request's value that is a row id: ASCII digits that fit a bigint. str.isdigit() and int() also take
    "²" or "١٢", and int() refuses over 4,300 digits: anything else is no id (None), never a 500."""
    if value is None or not ROW_ID.fullmatch(value):
        return None
    return int(value)


class IdAutocompleteSelect(AutocompleteSelect):
    """The admin's autocomplete, for a foreign key by id: a form sent back with a value that is no id (typed
    by hand) shows the field's "Select a valid choice" instead of a 500 (Django's widget looks the value up
    as it came to draw the chosen option)."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if row_id(str(v)) is not None], attr)


class RequestChecks:
    """What the admin takes from a request as it comes, checked first: a NUL character, which PostgreSQL
    refuses in text (psycopg raises, a 500), in a list's query string or search, and selected rows that
    are no ids (Django's actions filter by them as sent: a ValueError, a 500)."""

    def changelist_view(self, request, extra_context=None):
        if any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values):
            raise BadRequest("The query string has a NUL character.")
        return super().changelist_view(request, extra_context)

    def get_search_results(self, request, queryset, search_term):
        if "\x00" in search_term:  # the autocomplete's term as well as the list's search
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def response_action(self, request, queryset, **kwargs):
        if any(row_id(value) is None for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            self.message_user(request, "Select rows from the list: some selected rows are no rows.", messages.ERROR)
            return None  # the admin redirects back to the list
        return super().response_action(request, queryset, **kwargs)


class ReadOnlyAdmin(RequestChecks, admin.ModelAdmin):
    """Staff look, never write here: every change goes through the services (API, commands)."""

    paginator = EstimatedCountPaginator

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Keyset paging's query-string parameters: the boundary row's sort values (a token), or the last page.
AFTER, BEFORE, LAST = "after", "before", "last"
KEYSET_PARAMS = (AFTER, BEFORE, LAST)
# A filtered or searched list is counted exactly up to this many rows; beyond, it says "more than".
COUNT_UP_TO = 1000
# An unfiltered table this small is counted exactly; larger, PostgreSQL's estimate is shown as "about N".
EXACT_TABLE_UP_TO = 20_000


class KeysetChangeList(ChangeList):
    """A changelist paged by keyset (First, Newer, Older, Last), never by OFFSET: every page, the last one
    included, is an index range read of one page of rows, and every row is reachable whatever the count.

    The count says what it is: exact for a small table or a filtered/searched list of up to COUNT_UP_TO
    rows, "more than COUNT_UP_TO" beyond that, "about N" (PostgreSQL's statistics) for a whole large table.
    A sort the keyset cannot follow (a nullable or related column) falls back to the admin's own paging.
    """

    def get_ordering_field(self, field_name):
        """Only the admin's sortable_by columns sort (a hand-written ?o= included), each by its index, and
        only the whole list: a filtered or searched one stays newest first, since walking the sort's index
        for the few rows a filter keeps reads most of the table (0.9 s for one country at a million rows)."""
        if field_name not in self.sortable_by or self.query or self.get_filters_params():
            return None
        return super().get_ordering_field(field_name)

    def get_filters_params(self, params=None):
        params = super().get_filters_params(params)
        for name in KEYSET_PARAMS:
            params.pop(name, None)
        return params

    @cached_property
    def keyset_ordering(self) -> list[tuple[str, bool]] | None:
        """(column attname, descending) of the list's ORDER BY; None when a keyset cannot follow it."""
        out = []
        meta = self.model._meta
        for item in self.queryset.query.order_by:
            if not isinstance(item, str):
                return None
            name = item.removeprefix("-")
            try:
                field = meta.pk if name == "pk" else meta.get_field(name)
            except FieldDoesNotExist:
                return None
            if field.null or field.is_relation or not field.concrete:
                return None
            out.append((field.attname, item.startswith("-")))
        return out or None

    def get_results(self, request):
        if self.keyset_ordering is None:
            self.keyset = False
            return super().get_results(request)
        self.keyset = True
        ordering = self.keyset_ordering
        size = self.list_per_page
        params = request.GET
        token = params.get(AFTER) or params.get(BEFORE)
        backwards = BEFORE in params or LAST in params
        rows_qs = self.queryset
        if token:
            rows_qs = rows_qs.filter(self._beyond(ordering, self._decode(token), backwards))
        if backwards:
            rows_qs = rows_qs.order_by(*[("" if desc else "-") + name for name, desc in ordering])
        rows = list(rows_qs[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        self.has_newer = more if backwards else bool(token)
        self.has_older = (BEFORE in params) if backwards else more
        self.result_list = rows
        self.first_url = self.get_query_string(remove=[*KEYSET_PARAMS, "p"])
        self.last_url = self.get_query_string({LAST: "1"}, [AFTER, BEFORE, "p"])
        self.export_query = self.get_query_string(remove=KEYSET_PARAMS)
        self.newer_url = self.older_url = self.first_url
        if not rows:  # e.g. every row after the cursor has gone: back to the first page only
            self.has_older, self.has_newer = False, bool(token or backwards)
        else:
            self.newer_url = self.get_query_string({BEFORE: self._encode(rows[0], ordering)}, [AFTER, LAST, "p"])
            self.older_url = self.get_query_string({AFTER: self._encode(rows[-1], ordering)}, [BEFORE, LAST, "p"])
        self.result_count, self.count_text = self._count(len(rows), token or backwards)
        self.show_full_result_count = False
        self.full_result_count = None
        self.show_admin_actions = True
        self.can_show_all = False
        self.show_all = False
        self.multi_page = self.has_newer or self.has_older
        self.paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)

    def _count(self, shown: int, paged: bool) -> tuple[int, str]:
        noun = self.opts.verbose_name_plural
        filtered = bool(self.query) or self.has_active_filters
        if not filtered:
            rows, exact = table_estimate(self.model)
            if not exact:
                return rows, f"about {rows:,} {noun}"
        if not paged and shown < self.list_per_page:
            return shown, f"{shown:,} {self.opts.verbose_name if shown == 1 else noun}"
        counted = self.queryset.order_by()[: COUNT_UP_TO + 1].count()
        if counted > COUNT_UP_TO:
            return counted, f"more than {COUNT_UP_TO:,} {noun}"
        return counted, f"{counted:,} {self.opts.verbose_name if counted == 1 else noun}"

    @staticmethod
    def _beyond(ordering: list[tuple[str, bool]], values: list, backwards: bool) -> Q:
        """Rows after (or, backwards, before) the row with these sort values, in the list's order:
        (a > x) OR (a = x AND b > y) …, with a leading bound on the first column for the index."""
        clauses = Q(pk__in=[])
        for depth, (name, desc) in enumerate(ordering):
            later = "lt" if desc != backwards else "gt"
            same = {ordering[i][0]: values[i] for i in range(depth)}
            clauses |= Q(**same, **{f"{name}__{later}": values[depth]})
        first, desc = ordering[0]
        bound = "lte" if desc != backwards else "gte"
        return Q(**{f"{first}__{bound}": values[0]}) & clauses

    def _encode(self, row, ordering) -> str:
        values = [self._field(name).value_to_string(row) for name, _ in ordering]
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")

    def _decode(self, token: str) -> list:
        fields = [self._field(name) for name, _ in self.keyset_ordering]
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if not isinstance(raw, list) or len(raw) != len(fields):
                raise ValueError
            return [field.to_python(value) for field, value in zip(fields, raw, strict=True)]
        except (ValueError, TypeError, binascii.Error, ValidationError):
            raise IncorrectLookupParameters("bad page token") from None

    def _field(self, attname: str):
        meta = self.model._meta
        return next(field for field in meta.concrete_fields if field.attname == attname)


def table_estimate(model) -> tuple[int, bool]:
    """(rows, exact): PostgreSQL's estimate for the whole table (pg_class.reltuples, kept by ANALYZE and
    autovacuum), or an exact count while the table is small or has never been analyzed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    estimate = row[0] if row else -1
    if estimate < EXACT_TABLE_UP_TO:
        return model._default_manager.count(), True
    return estimate, False


class MillionRowAdmin(ReadOnlyAdmin):
    """A read-only list of a table that grows to millions of rows (customers, accounts, payouts, history).

    - Paged by keyset (KeysetChangeList), with counts that say whether they are exact.
    - Searched by what the term is (core.search.parse_term), each kind answered by one index: `search`
      returns the matching rows, or None when this list has no search of that kind.
    - No per-option counts ("Show counts"): each option would count the whole table.
    - Sortable only by columns with an index that serves the sort (sortable_by), newest first by default.
    """

    change_list_template = "admin/compliance/change_list.html"
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    sortable_by: tuple[str, ...] = ()
    search_fields = ("public_id",)  # shows the search box; get_search_results decides what is searched
    ordering = ("-pk",)

    def get_changelist(self, request, **kwargs):
        return KeysetChangeList

    def search(self, queryset: QuerySet, term: Term) -> QuerySet | None:
        return None

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        term = parse_term(search_term)
        if not term.searchable:
            self.message_user(request, f"Type at least {MIN_TEXT} characters of a name.", messages.WARNING)
            return queryset.none(), False
        found = self.search(queryset, term)
        if found is None:
            kind = "a name" if term.kind is Kind.TEXT else f"a {term.kind.value}"
            help_text = f"This list cannot be searched by {kind}. {self.search_help_text}"
            self.message_user(request, help_text, messages.WARNING)
            return queryset.none(), False
        return found, False


def fixed_choices(values: tuple[str, ...]) -> type[admin.FieldListFilter]:
    """A filter on a plain column offering these values, where the admin's own (AllValuesFieldListFilter)
    would read the whole table (SELECT DISTINCT) on every page view to list the values present."""

    class FixedChoicesFilter(admin.ChoicesFieldListFilter):
        def choices(self, changelist):
            yield {
                "selected": self.lookup_val is None,
                "query_string": changelist.get_query_string(remove=[self.lookup_kwarg, self.lookup_kwarg_isnull]),
                "display": "All",
            }
            for value in values:
                yield {
                    "selected": self.lookup_val is not None and value in self.lookup_val,
                    "query_string": changelist.get_query_string({self.lookup_kwarg: value}, [self.lookup_kwarg_isnull]),
                    "display": value,
                }

    return FixedChoicesFilter


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page (its `fields`, all read-only), never added or deleted there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False
