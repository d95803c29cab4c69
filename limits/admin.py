"""The back-office for payout limits: compliance admins set them here, through limits.services (maker-checker:
a raise or removal waits in "Payout limit changes" until a second compliance admin approves it)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from audit.admin import AuditHistoryMixin
from compliance.admin_bases import IdAutocompleteSelect, ReadOnlyAdmin, RequestChecks
from core.errors import DomainError
from limits.models import FIELDS, NAMES_SHOWN, PayoutLimit, PayoutLimitChange
from limits.services import limit_change_approve, limit_change_refuse, limit_value_problem, limits_set


class PayoutLimitForm(forms.ModelForm):
    reason = forms.CharField(required=False, max_length=400, help_text="Why (kept in the audit trail with your name).")

    class Meta:
        model = PayoutLimit
        fields = ("merchant", "livemode", *FIELDS.values())

    def clean(self):
        """The service's rule (limits_set), said on the field: the database's CHECK would only be named."""
        cleaned = super().clean()
        for field in FIELDS.values():
            if problem := limit_value_problem(cleaned.get(field)):
                self.add_error(field, problem)
        return cleaned


def _listed(values: dict) -> str:
    return ", ".join(
        f"{NAMES_SHOWN[field]}: {'no limit' if v is None else f'{v:.2f} ARS'}" for field, v in values.items()
    )


@admin.register(PayoutLimit)
class PayoutLimitAdmin(AuditHistoryMixin, RequestChecks, admin.ModelAdmin):
    form = PayoutLimitForm
    history_subject = "payout limits"
    list_display = ("merchant", "livemode", *FIELDS.values(), "updated_at")
    list_filter = ("livemode",)
    list_select_related = ("merchant",)
    search_fields = ("merchant__public_id", "merchant__name")
    autocomplete_fields = ("merchant",)

    def get_readonly_fields(self, request, obj=None):
        return ("merchant", "livemode", "updated_at") if obj is not None else ("updated_at",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "merchant":
            kwargs["widget"] = IdAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm("limits.set_limits")

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("limits.set_limits")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        """Not a save: limits.services decides what applies now and what waits for a second admin."""
        values = {field: form.cleaned_data[field] for field in FIELDS.values()}
        result = limits_set(
            merchant=obj.merchant,
            livemode=obj.livemode,
            values=values,
            by=request.user,
            reason=form.cleaned_data.get("reason", ""),
        )
        obj.pk = result.limits.pk
        obj.refresh_from_db()
        if result.applied:
            self.message_user(request, f"In force now: {_listed(result.applied)}.", messages.SUCCESS)
        if result.pending is not None:
            self.message_user(
                request,
                f"Waiting for a second compliance admin's approval (change {result.pending.pk}): "
                f"{_proposed(result.pending)}.",
                messages.WARNING,
            )
        if not result.applied and result.pending is None:
            self.message_user(request, "Nothing changed.", messages.INFO)


def _proposed(change: PayoutLimitChange) -> str:
    return ", ".join(
        f"{name.replace('_', ' ')}: {'no limit' if value is None else f'{value} ARS'}"
        for name, value in change.proposed.items()
    )


@admin.register(PayoutLimitChange)
class PayoutLimitChangeAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    """Raises and removals of limits waiting for a second compliance admin; approve or refuse them here."""

    history_subject = "limit change"
    list_display = ("pk", "merchant", "livemode", "proposal", "current", "proposed_by", "proposed_at", "status")
    list_filter = ("status", "livemode")
    list_select_related = ("merchant", "proposed_by")
    fields = (
        "merchant",
        "livemode",
        "proposal",
        "current",
        "status",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
        "reason",
    )
    readonly_fields = fields
    actions = ["approve_selected", "refuse_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-status", "proposed_at")  # pending first, oldest first

    @admin.display(description="proposed")
    def proposal(self, change: PayoutLimitChange) -> str:
        return _proposed(change)

    @admin.display(description="in force now")
    def current(self, change: PayoutLimitChange) -> str:
        limits = PayoutLimit.objects.filter(merchant=change.merchant_id, livemode=change.livemode).first()
        if limits is None:
            return "no limits"
        return _listed({field: getattr(limits, field) for field in FIELDS.values()})

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm("limits.approve_limit_change")

    @admin.action(description="Approve selected changes (not your own)…", permissions=["approve"])
    def approve_selected(self, request, queryset):
        return self._decide(request, queryset, limit_change_approve, "approve")

    @admin.action(description="Refuse selected changes…", permissions=["approve"])
    def refuse_selected(self, request, queryset):
        return self._decide(request, queryset, limit_change_refuse, "refuse")

    def _decide(self, request, queryset, decide, verb: str):
        """First a page showing what each change does and asking for the reason (required to refuse), then
        the decision, change by change (one refused, e.g. your own, does not stop the others)."""
        changes = list(queryset.select_related("merchant", "proposed_by").order_by("pk"))
        reason = request.POST.get("reason", "").strip()
        if "\x00" in reason:
            self.message_user(request, "The reason cannot contain a NUL character.", messages.ERROR)
            return None
        if "apply" not in request.POST or (verb == "refuse" and not reason):
            context = {
                **self.admin_site.each_context(request),
                "title": f"{verb.capitalize()} limit changes",
                "verb": verb,
                "action": f"{verb}_selected",
                "rows": [{"change": c, "proposed": self.proposal(c), "current": self.current(c)} for c in changes],
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/limits/decide.html", context)
        done = 0
        for change in changes:
            try:
                decide(change=change, by=request.user, reason=reason)
            except DomainError as error:
                self.message_user(request, f"Change {change.pk}: {error.message}", messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(request, f"{done} change(s) {verb}d.", messages.SUCCESS)
        return None
