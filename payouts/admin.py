from decimal import Decimal

from django.contrib import admin

from audit.admin import AuditHistoryMixin
from compliance.admin_bases import ReadOnlyAdmin, ReadOnlyInline
from compliance.export import CsvExportMixin
from payouts.models import Payout, PayoutEvent


class PayoutEventInline(ReadOnlyInline):
    model = PayoutEvent
    fields = ("created_at", "from_status", "to_status", "reason")
    ordering = ("id",)


class AmountFilter(admin.SimpleListFilter):
    """Amount ranges in ARS, lower bound included."""

    title = "amount"
    parameter_name = "amount"
    RANGES = {
        "lt10k": (None, Decimal("10000")),
        "10k-100k": (Decimal("10000"), Decimal("100000")),
        "100k-1m": (Decimal("100000"), Decimal("1000000")),
        "gte1m": (Decimal("1000000"), None),
    }
    LABELS = {
        "lt10k": "under 10,000",
        "10k-100k": "10,000 to 100,000",
        "100k-1m": "100,000 to 1,000,000",
        "gte1m": "1,000,000 or more",
    }

    def lookups(self, request, model_admin):
        return list(self.LABELS.items())

    def queryset(self, request, queryset):
        if self.value() not in self.RANGES:
            return queryset
        low, high = self.RANGES[self.value()]
        if low is not None:
            queryset = queryset.filter(amount__gte=low)
        return queryset if high is None else queryset.filter(amount__lt=high)


@admin.register(Payout)
class PayoutAdmin(AuditHistoryMixin, CsvExportMixin, ReadOnlyAdmin):
    """Read-only: payouts move through their services (the API, the worker). The destination shows as its
    last four digits only."""

    history_subject = "payout"
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
    list_filter = ("status", "failure_code", AmountFilter, ("created_at", admin.DateFieldListFilter), "livemode")
    search_fields = ("=public_id", "=customer__public_id", "=destination_last4")
    export_columns = (
        ("payoutId", lambda p: p.public_id),
        ("merchant", lambda p: p.merchant.public_id),
        ("livemode", lambda p: p.livemode),
        ("amount", lambda p: f"{p.amount:.2f}"),
        ("currency", lambda p: p.currency),
        ("status", lambda p: p.status),
        ("failureCode", lambda p: p.failure_code),
        ("customerId", lambda p: p.customer_public_id or ""),
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
