from django.contrib import admin

from customers.accounts import bank_name
from customers.models import BankAccount, Customer


class ReadOnlyAdmin(admin.ModelAdmin):
    """Staff look, never write here: every change goes through the services (API, commands)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Customers change through the API's services only."""

    list_display = ("public_id", "name", "type", "country", "merchant", "livemode", "created_at", "last_out")
    list_filter = ("livemode", "type", "country")
    search_fields = ("=public_id", "name", "email")
    list_select_related = ("merchant",)
    show_full_result_count = False
    readonly_fields = [field.name for field in Customer._meta.fields if field.name != "default_bank_account"]


@admin.register(BankAccount)
class BankAccountAdmin(ReadOnlyAdmin):
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
    list_filter = ("needs_review", "status", "livemode", "account_kind")
    search_fields = ("=public_id", "=customer__public_id", "holder_name", "=account_number_last4")
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

    @admin.display(description="number")
    def last4(self, account: BankAccount) -> str:
        return f"…{account.account_number_last4}" if account.account_number_last4 else "—"

    @admin.display(description="bank")
    def bank(self, account: BankAccount) -> str:
        return bank_name(account.entity_code or None) or "—"
