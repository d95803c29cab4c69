"""Admin bases for the back-office: staff look here; every change goes through the services."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Staff look, never write here: every change goes through the services (API, commands)."""

    paginator = EstimatedCountPaginator

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page (its `fields`, all read-only), never added or deleted there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False
