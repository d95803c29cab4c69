from decimal import Decimal

from django.contrib import admin

from audit.admin import AuditHistoryMixin
from compliance.admin_bases import MillionRowAdmin, ReadOnlyInline, fixed_choices
from compliance.export import CsvExportMixin, isoformat
from payouts.models import Payout, PayoutEvent
from payouts.rails import SANDBOX_FAILURES
from payouts.selectors import payouts_search
from payouts.services import REJECTED_CODE
from payouts.stops import STOPS

# The failure filter's options: the codes our rails, stops and compliance's rejection set (listing the codes
# present would read every payout on every page view).
FAILURE_CODES = tuple(sorted({code for code, _ in SANDBOX_FAILURES.values()} | set(STOPS) | {REJECTED_CODE}))


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
class PayoutAdmin(AuditHistoryMixin, CsvExportMixin, MillionRowAdmin):
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
    list_filter = (
        "status",
        ("failure_code", fixed_choices(FAILURE_CODES)),
        AmountFilter,
        ("created_at", admin.DateFieldListFilter),
        "livemode",
    )
    search_help_text = (
        "A po_, cust_ or ba_ id; the last four digits or the full CBU/CVU (22 digits) paid to; the customer's "
        "CUIT/CUIL (11 digits) or email."
    )
    export_columns = (
        ("payoutId", "public_id", None),
        ("merchant", "merchant__public_id", None),
        ("livemode", "livemode", None),
        ("amount", "amount", lambda amount: f"{amount:.2f}"),
        ("currency", "currency", None),
        ("status", "status", None),
        ("failureCode", "failure_code", None),
        ("customerId", "customer_public_id", lambda public_id: public_id or ""),
        ("destination", "destination_last4", lambda last4: f"…{last4}"),
        ("createdAt", "created_at", isoformat),
    )
    list_select_related = ("customer", "merchant")
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
        "hold_reasons",
        "description",
        "metadata",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [PayoutEventInline]

    def search(self, queryset, term):
        return payouts_search(queryset, term)

    @admin.display(description="destination")
    def destination(self, payout: Payout) -> str:
        return f"…{payout.destination_last4}"
