from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from audit.admin import AuditHistoryMixin
from audit.selectors import history
from compliance.admin_bases import MillionRowAdmin, ReadOnlyInline, fixed_choices
from compliance.export import CsvExportMixin, isoformat
from compliance.services import REVEAL_PERMISSION, bank_account_reveal
from core.errors import InvalidParameters
from customers.accounts import bank_name
from customers.models import BankAccount, Customer
from customers.selectors import bank_accounts_search, customers_search
from customers.services import customer_verification_set

# The country filter's options (any other: ?country__exact=XX): listing the countries present would read
# every customer on every page view.
COMMON_COUNTRIES = ("AR", "UY", "BR", "CL", "PY", "BO", "PE", "US", "ES")


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
        # The flagged accounts are few and have a partial index of their own (bank_account_needs_review).
        return queryset.filter(pk__in=BankAccount.objects.filter(needs_review=True).values("customer_id"))


@admin.register(Customer)
class CustomerAdmin(AuditHistoryMixin, CsvExportMixin, MillionRowAdmin):
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
        ("country", fixed_choices(COMMON_COUNTRIES)),
        ("created_at", admin.DateFieldListFilter),
    )
    search_help_text = (
        "A cust_ or ba_ id; a CUIT/CUIL (11 digits), last four digits or full CBU/CVU (22 digits) of one of "
        "their accounts; an email; or at least 3 letters of a name (anywhere in it), or an exact externalId. "
        "Sorting by name applies to the whole list (a filtered or searched one is newest first)."
    )
    sortable_by = ("name",)
    export_columns = (
        ("customerId", "public_id", None),
        ("merchant", "merchant__public_id", None),
        ("livemode", "livemode", None),
        ("type", "type", None),
        ("name", "name", None),
        ("email", "email", None),
        ("country", "country", None),
        ("externalId", "external_id", None),
        ("verification", "verification_status", None),
        ("createdAt", "created_at", isoformat),
        ("lastOut", "last_out", isoformat),
    )
    list_select_related = ("merchant",)
    readonly_fields = [field.name for field in Customer._meta.fields if field.name != "default_bank_account"]
    inlines = [BankAccountInline]
    actions = ["verify_selected", "reject_selected"]
    change_form_template = "admin/customers/customer/change_form.html"
    history_subject = "customer"
    PAYOUTS_SHOWN = 20

    def search(self, queryset, term):
        return customers_search(queryset, term)

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
    return masked_last4(account.account_number_last4)


def masked_last4(last4: str) -> str:
    return f"…{last4}" if last4 else "—"


@admin.register(BankAccount)
class BankAccountAdmin(AuditHistoryMixin, CsvExportMixin, MillionRowAdmin):
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
    search_help_text = (
        "A ba_ or cust_ id, a CUIT/CUIL (11 digits), the last four digits or the full CBU/CVU (22 digits), "
        "or the customer's email. Names: search the customers list."
    )
    export_columns = (
        ("bankAccountId", "public_id", None),
        ("customerId", "customer__public_id", None),
        ("livemode", "livemode", None),
        ("number", "account_number_last4", masked_last4),
        ("kind", "account_kind", None),
        ("holderName", "holder_name", None),
        ("status", "status", None),
        ("needsReview", "needs_review", None),
        ("reviewReason", "review_reason", None),
        ("createdAt", "created_at", isoformat),
    )
    list_select_related = ("customer",)
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

    def search(self, queryset, term):
        return bank_accounts_search(queryset, term)

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
