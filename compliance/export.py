"""CSV export of an admin changelist as it stands (filters, search, ordering), streamed.

Rows are read with a server-side cursor in chunks and written as they are read, so a million rows
never sit in memory. Each admin chooses its columns; account numbers appear as last four digits only.
Every string cell that a spreadsheet would read as a formula is neutralised (OWASP "CSV injection").
"""

import csv
from collections.abc import Callable, Iterator
from functools import update_wrapper

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path

CHUNK_ROWS = 2000

# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and carriage return,
# skips them and reads what follows as one): OWASP's list.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A cell as a spreadsheet will show it, never run it: a string starting with a formula trigger gets a
    leading single quote (OWASP's advice), which the spreadsheet shows as text. Other values (None,
    numbers, booleans) cannot start a formula and are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class Echo:
    """A file-like object whose write returns what it is given: csv.writer then yields lines."""

    def write(self, value: str) -> str:
        return value


class CsvExportMixin:
    """Adds /export/ to a ModelAdmin's changelist (and a link to it): the rows as the changelist shows them."""

    change_list_template = "admin/compliance/export_change_list.html"
    export_columns: tuple[tuple[str, Callable], ...] = ()  # (header, value of an object)

    def get_urls(self):
        def export(request):
            return self.export_view(request)

        export = transaction.non_atomic_requests(update_wrapper(export, self.export_view))
        meta = self.model._meta
        route = path("export/", self.admin_site.admin_view(export), name=f"{meta.app_label}_{meta.model_name}_export")
        return [route, *super().get_urls()]

    def export_view(self, request) -> StreamingHttpResponse:
        # Outside a transaction, so the server-side cursor outlives the view (WITH HOLD) while streaming.
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter.")
        response = StreamingHttpResponse(self._lines(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.model._meta.model_name}s.csv"'
        return response

    def _lines(self, queryset) -> Iterator[str]:
        writer = csv.writer(Echo())
        yield writer.writerow([safe_cell(header) for header, _ in self.export_columns])
        for obj in queryset.iterator(chunk_size=CHUNK_ROWS):
            yield writer.writerow([safe_cell(value(obj)) for _, value in self.export_columns])
