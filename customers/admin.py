from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from audit.admin import AuditHistoryMixin
from audit.selectors import history
from compliance.admin_bases import ReadOnlyAdmin, ReadOnlyInline
from compliance.export import CsvExportMixin
from compliance.services import REVEAL_PERMISSION, bank_account_reveal
from core.errors import InvalidParameters
from customers.accounts import bank_name
from customers.models import BankAccount, Customer
from customers.services import customer_verification_set


class BankAccountInline(ReadOnlyInline):
    """The customer's accounts, masked: last four digits only."""

    model = BankAccount
    fields = ("public_id", "last4", "account_kind", "holder_name", "status", "needs_review", "created_at")
    show_change_link = True

    @admin.display(description="number")
    def last4(self, account: BankAccount) -> str:
        return masked(account)


class UnpaidFilter(admin.SimpleListFilter):
    """Customers with accounts and no payout for longer than COMPLIANCE_UNPAID_DAYS (or never paid)."""

    title = "payouts"
    parameter_name = "unpaid"

    def lookups(self, request, model_admin):
        return [("stale", f"Not paid for over {settings.COMPLIANCE_UNPAID_DAYS} days")]

    def queryset(self, request, queryset):
        if self.value() != "stale":
            return queryset
        cutoff = timezone.now() - timedelta(days=settings.COMPLIANCE_UNPAID_DAYS)
        stale = Q(last_out__lt=cutoff) | Q(last_out__isnull=True, created_at__lt=cutoff)
        return queryset.filter(stale, default_bank_account__isnull=False)


class NeedsReviewFilter(admin.SimpleListFilter):
    """Customers with an account flagged for review (shared number, CUIT prefix, change before a large payout)."""

    title = "needs review"
    parameter_name = "needs_review"

    def lookups(self, request, model_admin):
        return [("yes", "Has an account flagged for review")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(Exists(BankAccount.objects.filter(customer=OuterRef("pk"), needs_review=True)))


@admin.register(Customer)
class CustomerAdmin(AuditHistoryMixin, CsvExportMixin, ReadOnlyAdmin):
    """Customers change through the API's services only; compliance verifies or rejects them here."""

    list_display = (
        "public_id",
        "name",
        "type",
        "country",
        "merchant",
        "livemode",
        "verification_status",
        "created_at",
        "last_out",
    )
    list_filter = (
        "verification_status",
        NeedsReviewFilter,
        UnpaidFilter,
        "merchant",
        "livemode",
        "type",
        "country",
        ("created_at", admin.DateFieldListFilter),
    )
    # CUIT/CUIL: as stored on the customer's accounts (11 digits); metadata: any key or value.
    search_fields = (
        "=public_id",
        "name",
        "email",
        "=external_id",
        "=bank_accounts__metadata__cuit",
        "=bank_accounts__metadata__cuil",
        "=bank_accounts__account_number_last4",
        "metadata__icontains",
    )
    export_columns = (
        ("customerId", lambda c: c.public_id),
        ("merchant", lambda c: c.merchant.public_id),
        ("livemode", lambda c: c.livemode),
        ("type", lambda c: c.type),
        ("name", lambda c: c.name),
        ("email", lambda c: c.email),
        ("country", lambda c: c.country),
        ("externalId", lambda c: c.external_id),
        ("verification", lambda c: c.verification_status),
        ("createdAt", lambda c: c.created_at.isoformat()),
        ("lastOut", lambda c: c.last_out.isoformat() if c.last_out else ""),
    )
    list_select_related = ("merchant",)
    show_full_result_count = False
    readonly_fields = [field.name for field in Customer._meta.fields if field.name != "default_bank_account"]
    inlines = [BankAccountInline]
    actions = ["verify_selected", "reject_selected"]
    change_form_template = "admin/customers/customer/change_form.html"
    history_subject = "customer"
    PAYOUTS_SHOWN = 20

    def audit_history(self, customer: Customer):
        accounts = apps.get_model("customers", "BankAccountHistory").objects.filter(
            pgh_obj_id__in=customer.bank_accounts.values("pk")  # by the history's object index
        )
        return history((customer.audit_events.all(), "customer"), (accounts, "bank account"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = self.get_object(request, object_id)
        payouts = customer.payouts.order_by("-id")[: self.PAYOUTS_SHOWN] if customer is not None else []
        return super().change_view(request, object_id, form_url, {"customer_payouts": payouts, **(extra_context or {})})

    def has_verify_permission(self, request) -> bool:
        return request.user.has_perm("customers.verify_customer")

    def get_urls(self):
        verification = self.admin_site.admin_view(self.verification_view)
        route = path("<path:object_id>/verification/", verification, name="customers_customer_verification")
        return [route, *super().get_urls()]

    def verification_view(self, request, object_id: str):
        """The customer page's verify/reject form."""
        customer = self.get_object(request, object_id)
        if request.method != "POST" or customer is None or not self.has_verify_permission(request):
            raise PermissionDenied
        status = {"verify": Customer.Verification.VERIFIED, "reject": Customer.Verification.REJECTED}.get(
            request.POST.get("decision")
        )
        if status is None:
            raise PermissionDenied
        self._decide(request, [customer], status, request.POST.get("reason", ""))
        return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[customer.pk]))

    @admin.action(description="Verify selected customers", permissions=["verify"])
    def verify_selected(self, request, queryset):
        self._decide(request, queryset, Customer.Verification.VERIFIED, "")

    @admin.action(description="Reject selected customers…", permissions=["verify"])
    def reject_selected(self, request, queryset):
        """Asks for the reason on a page of its own, then rejects them all with it."""
        if "apply" in request.POST and self._decide(
            request, queryset, Customer.Verification.REJECTED, request.POST.get("reason", "")
        ):
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject customers",
            "customers": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/customers/customer/reject.html", context)

    def _decide(self, request, customers, status: str, reason: str) -> bool:
        try:
            for customer in customers:
                customer_verification_set(customer=customer, status=status, reviewer=request.user, reason=reason)
        except InvalidParameters as error:
            self.message_user(request, error.errors[0]["message"], messages.ERROR)
            return False
        self.message_user(request, f"{len(customers)} customer(s) {status}.", messages.SUCCESS)
        return True


def masked(account: BankAccount) -> str:
    return f"…{account.account_number_last4}" if account.account_number_last4 else "—"


@admin.register(BankAccount)
class BankAccountAdmin(AuditHistoryMixin, CsvExportMixin, ReadOnlyAdmin):
    """Read-only. Shows the last four digits only: never the number, its ciphertext or its fingerprint."""

    list_display = (
        "public_id",
        "customer",
        "last4",
        "account_kind",
        "bank",
        "status",
        "needs_review",
        "livemode",
        "created_at",
    )
    list_filter = (
        "needs_review",
        "status",
        "merchant",
        "livemode",
        "account_kind",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = (
        "=public_id",
        "=customer__public_id",
        "holder_name",
        "=account_number_last4",
        "=metadata__cuit",
        "=metadata__cuil",
        "metadata__icontains",
    )
    export_columns = (
        ("bankAccountId", lambda a: a.public_id),
        ("customerId", lambda a: a.customer.public_id),
        ("livemode", lambda a: a.livemode),
        ("number", masked),
        ("kind", lambda a: a.account_kind),
        ("holderName", lambda a: a.holder_name),
        ("status", lambda a: a.status),
        ("needsReview", lambda a: a.needs_review),
        ("reviewReason", lambda a: a.review_reason),
        ("createdAt", lambda a: a.created_at.isoformat()),
    )
    list_select_related = ("customer",)
    show_full_result_count = False
    fields = (
        "public_id",
        "customer",
        "holder_name",
        "account_type",
        "last4",
        "account_kind",
        "bank",
        "status",
        "disabled_at",
        "needs_review",
        "review_reason",
        "metadata",
        "livemode",
        "created_at",
    )
    readonly_fields = fields
    history_subject = "bank account"
    change_form_template = "admin/customers/bankaccount/change_form.html"

    def get_urls(self):
        reveal = self.admin_site.admin_view(self.reveal_view)
        return [path("<path:object_id>/reveal/", reveal, name="customers_bankaccount_reveal"), *super().get_urls()]

    def reveal_view(self, request, object_id: str):
        """GET asks to confirm; POST shows the full number on this response only (never cached), after the
        reveal is written to the audit trail. Without the permission: 403, and nothing is recorded."""
        account = self.get_object(request, object_id)
        if account is None or not request.user.has_perm(REVEAL_PERMISSION):
            raise PermissionDenied
        number = bank_account_reveal(account=account, staff=request.user) if request.method == "POST" else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Account number of {account.public_id}",
            "account": account,
            "number": number,
            "revealed": request.method == "POST",
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/customers/bankaccount/reveal.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.display(description="number")
    def last4(self, account: BankAccount) -> str:
        return masked(account)

    @admin.display(description="bank")
    def bank(self, account: BankAccount) -> str:
        return bank_name(account.entity_code or None) or "—"
