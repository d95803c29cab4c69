"""The audit trail in the back-office: each tracked model's events as a searchable list, and every object's
history on its own page. Read-only: the trail is append-only (its tables refuse UPDATE and DELETE)."""

from django.apps import apps
from django.contrib import admin
from django.utils.html import format_html_join

from audit.selectors import (
    Change,
    Entry,
    actor_of,
    annotate_previous,
    changes_between,
    history,
    history_search,
    with_previous,
)
from audit.tracking import CREATE, DELETE, REVEAL, UPDATE
from compliance.admin_bases import KeysetChangeList, MillionRowAdmin, fixed_choices

HISTORY_MODELS = (
    ("merchants", "MerchantHistory"),
    ("merchants", "ApiKeyHistory"),
    ("customers", "CustomerHistory"),
    ("customers", "BankAccountHistory"),
    ("payouts", "PayoutHistory"),
)


def render_changes(changes: list[Change]):
    return format_html_join(
        "", "<div><b>{}</b>: {} → {}</div>", ((c.field, short(c.before), short(c.after)) for c in changes)
    )


def short(value) -> str:
    text = "—" if value in (None, "") else str(value)
    return text if len(text) <= 80 else text[:79] + "…"


class HistoryChangeList(KeysetChangeList):
    """Fetches each listed event's previous one in a single query, for its diff."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = [_with_diff(event, previous) for event, previous in with_previous(self.result_list)]


def _with_diff(event, previous):
    event.changes = changes_between(event, previous)
    return event


class HistoryAdmin(MillionRowAdmin):
    list_display = ("pgh_created_at", "pgh_label", "public_id", "actor", "changed")
    list_filter = (("pgh_label", fixed_choices((CREATE, UPDATE, DELETE, REVEAL))), "pgh_created_at")
    search_help_text = (
        "The object's id (cust_…, ba_…, po_…, mer_…, key_…): its whole history; or who acted, by the start of "
        "their name (staff:ana, api_key:sk_live_ab12, command:import_customers)."
    )
    ordering = ("-pgh_id",)
    list_per_page = 50

    def search(self, queryset, term):
        return history_search(queryset, term)

    def get_queryset(self, request):
        return annotate_previous(super().get_queryset(request))

    def get_changelist(self, request, **kwargs):
        return HistoryChangeList

    @admin.display(description="actor")
    def actor(self, event) -> str:
        return actor_of(event)

    @admin.display(description="changes")
    def changed(self, event):
        return render_changes(getattr(event, "changes", []))

    def get_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


for app_label, model_name in HISTORY_MODELS:
    admin.site.register(apps.get_model(app_label, model_name), HistoryAdmin)


class AuditHistoryMixin:
    """Shows the object's change history (who, when, what changed) under its page's fields."""

    change_form_template = "admin/audit/change_form.html"
    history_subject = "object"

    def audit_history(self, obj) -> list[Entry]:
        return history((obj.audit_events.all(), self.history_subject))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {"audit_history": self.audit_history(obj) if obj is not None else []}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})
