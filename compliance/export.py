"""CSV export of an admin changelist as it stands (filters, search, ordering), streamed.

Rows are read as plain tuples (values_list: no model built per row) from a server-side cursor, in a
transaction of the export's own, and written as they are read: a million rows never sit in memory and the
first bytes leave at once. Each statement of it runs under the back-office's statement timeout. A stream
cut short (an error, a killed worker) ends without HTTP's final chunk, so the download fails visibly and
is never taken as complete. Each admin chooses its columns; account numbers appear as last four digits only.
Every string cell that a spreadsheet would read as a formula is neutralised (OWASP "CSV injection").
"""

import csv
import io
from collections.abc import Callable, Iterator
from functools import update_wrapper

from django.conf import settings
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path

from core.db import statement_timeout

CHUNK_ROWS = 5000

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


def isoformat(moment) -> str:
    return moment.isoformat() if moment is not None else ""


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


class CsvExportMixin:
    """Adds /export/ to a ModelAdmin's changelist (and a link to it): the rows as the changelist shows them."""

    change_list_template = "admin/compliance/export_change_list.html"
    # (header, column path for values_list, how the value is written: str when None)
    export_columns: tuple[tuple[str, str, Callable | None], ...] = ()

    def get_urls(self):
        def export(request):
            return self.export_view(request)

        export = transaction.non_atomic_requests(update_wrapper(export, self.export_view))
        meta = self.model._meta
        route = path("export/", self.admin_site.admin_view(export), name=f"{meta.app_label}_{meta.model_name}_export")
        return [route, *super().get_urls()]

    def export_view(self, request) -> StreamingHttpResponse:
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
        """The CSV, a chunk of CHUNK_ROWS lines at a time: one socket write per chunk, not per row."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([safe_cell(header) for header, _, _ in self.export_columns])
        formats = [(index, write) for index, (_, _, write) in enumerate(self.export_columns) if write is not None]
        rows = queryset.values_list(*[column for _, column, _ in self.export_columns])
        # A transaction of its own: the cursor streams (a WITH HOLD one, outside a transaction, would run the
        # whole query before the first row).
        with transaction.atomic(), statement_timeout(settings.BACK_OFFICE_STATEMENT_TIMEOUT, local=True):
            for count, row in enumerate(rows.iterator(chunk_size=CHUNK_ROWS), 1):
                cells = list(row)
                for index, write in formats:
                    cells[index] = write(cells[index])
                writer.writerow([safe_cell(cell) for cell in cells])
                if count % CHUNK_ROWS == 0:
                    yield _take(buffer)
        yield _take(buffer)
