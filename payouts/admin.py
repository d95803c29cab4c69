from django.contrib import admin

from compliance.export import CsvExportMixin
from customers.admin import ReadOnlyAdmin
from payouts.models import Payout, PayoutEvent


class PayoutEventInline(admin.TabularInline):
    model = PayoutEvent
    fields = ("created_at", "from_status", "to_status", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("id",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payout)
class PayoutAdmin(CsvExportMixin, ReadOnlyAdmin):
    """Read-only: payouts move through their services (the API, the worker). The destination shows as its
    last four digits only."""

    list_display = (
        "public_id",
        "amount",
        "currency",
        "status",
        "failure_code",
        "customer",
        "destination",
        "merchant",
        "livemode",
        "created_at",
    )
    list_filter = ("status", "failure_code", "livemode")
    search_fields = ("=public_id", "=customer__public_id", "=destination_last4")
    export_columns = (
        ("payoutId", lambda p: p.public_id),
        ("merchant", lambda p: p.merchant.public_id),
        ("livemode", lambda p: p.livemode),
        ("amount", lambda p: f"{p.amount:.2f}"),
        ("currency", lambda p: p.currency),
        ("status", lambda p: p.status),
        ("failureCode", lambda p: p.failure_code),
        ("customerId", lambda p: p.customer_id or ""),
        ("destination", lambda p: f"…{p.destination_last4}"),
        ("createdAt", lambda p: p.created_at.isoformat()),
    )
    list_select_related = ("customer", "merchant")
    show_full_result_count = False
    fields = (
        "public_id",
        "merchant",
        "livemode",
        "customer",
        "bank_account",
        "amount",
        "currency",
        "destination",
        "status",
        "failure_code",
        "failure_message",
        "description",
        "metadata",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [PayoutEventInline]

    @admin.display(description="destination")
    def destination(self, payout: Payout) -> str:
        return f"…{payout.destination_last4}"
