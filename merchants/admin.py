from datetime import timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from audit.admin import AuditHistoryMixin
from compliance.admin_bases import ReadOnlyInline, RequestChecks
from merchants.models import ApiKey, Merchant
from merchants.services import api_key_revoke, api_key_roll

ROLL_GRACE = timedelta(hours=24)


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = ("public_id", "livemode", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    show_change_link = True


class MerchantForm(forms.ModelForm):
    class Meta:
        model = Merchant
        fields = ("name", "compliance_hold_amount")

    def clean_compliance_hold_amount(self) -> Decimal | None:
        """Above 0 (0 would read as the default's, a negative one holds everything) and at most the four-eyes
        amount: above it the largest payouts, those two analysts must approve, would not be held at all."""
        amount = self.cleaned_data["compliance_hold_amount"]
        ceiling = Decimal(settings.COMPLIANCE_FOUR_EYES_AMOUNT)
        if amount is not None and not 0 < amount <= ceiling:
            raise forms.ValidationError(
                f"The hold threshold must be more than 0 and at most COMPLIANCE_FOUR_EYES_AMOUNT ({ceiling} ARS), "
                f"above which two analysts approve. Leave it empty for the platform's default "
                f"({settings.COMPLIANCE_HOLD_AMOUNT} ARS).",
                code="hold_amount_out_of_range",
            )
        return amount


@admin.register(Merchant)
class MerchantAdmin(AuditHistoryMixin, RequestChecks, admin.ModelAdmin):
    history_subject = "merchant"
    form = MerchantForm
    list_display = ("public_id", "name", "created_at")
    ordering = ("name", "id")  # the limits page's merchant autocomplete pages through it
    search_fields = ("public_id", "name")
    readonly_fields = ("public_id", "created_at")
    inlines = [ApiKeyInline]

    def get_readonly_fields(self, request, obj=None):
        """A compliance admin sets the merchant's own hold threshold (payouts.holds), nothing else here."""
        if request.user.is_superuser:
            return self.readonly_fields
        return (*self.readonly_fields, "name")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(AuditHistoryMixin, admin.ModelAdmin):
    """Keys are issued by `create_merchant`; here staff revoke or roll them. Secrets are never stored."""

    list_display = (
        "public_id",
        "merchant",
        "livemode",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("livemode", ("last_used_at", admin.EmptyFieldListFilter), "revoked_at")
    list_select_related = ("merchant",)
    search_fields = ("public_id", "prefix", "merchant__public_id", "merchant__name")
    fields = (*list_display, "rolled_to")
    readonly_fields = fields
    actions = ["revoke_keys", "roll_keys"]
    history_subject = "API key"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke selected keys now", permissions=["change"])
    def revoke_keys(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)

    @admin.action(description="Roll selected keys (old keys keep working 24 hours)", permissions=["change"])
    def roll_keys(self, request, queryset):
        """Shows the new secrets on a page of their own: never in a message, which Django keeps in a
        cookie or the session until it is displayed."""
        rolled, failed = [], []
        for api_key in queryset:
            try:
                issued = api_key_roll(api_key=api_key, old_key_valid_for=ROLL_GRACE)
            except ValueError:
                failed.append(api_key.public_id)
                continue
            old = type(api_key).objects.get(pk=api_key.pk)
            rolled.append(
                {"old": old, "new": issued.api_key, "secret": issued.secret, "old_expires_at": old.expires_at}
            )
        context = {**self.admin_site.each_context(request), "rolled": rolled, "failed": failed}
        response = TemplateResponse(request, "admin/merchants/rolled_keys.html", context)
        response["Cache-Control"] = "no-store"
        return response
