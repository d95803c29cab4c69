from collections.abc import Callable

import orjson
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from core.filters import parse_list_query
from core.lookups import get_by_public_id
from core.pagination import Page, keyset_page
from core.scope import Scope
from customers.filters import BankAccountFilter, CustomerFilter
from customers.models import BankAccount, Customer

# The columns the API shows: the selectors read exactly these (serializers render them).
CUSTOMER_FIELDS = (
    "public_id",
    "type",
    "name",
    "email",
    "country",
    "external_id",
    "default_bank_account_id",
    "metadata",
    "created_at",
    "last_out",
    "livemode",
)

BANK_ACCOUNT_FIELDS = (
    "public_id",
    "country",
    "currency",
    "rail",
    "account_number_last4",
    "account_type",
    "holder_name",
    "account_kind",
    "entity_code",
    "status",
    "metadata",
    "created_at",
    "livemode",
)


def customers_in_scope(*, scope: Scope) -> QuerySet[Customer]:
    return Customer.objects.filter(merchant_id=scope.merchant_id, livemode=scope.livemode)


def customer_get(*, scope: Scope, customer_id: str) -> Customer:
    queryset = customers_in_scope(scope=scope)
    return get_by_public_id(queryset, customer_id, prefix="cust", noun="customer", param="customerId")


def customer_list(*, scope: Scope, params) -> Page:
    """A page of the scope's customers, newest first, filtered and paginated by the query string."""
    base = customers_in_scope(scope=scope)
    filtered, page = parse_list_query(CustomerFilter, params, base, id_prefix="cust")
    return keyset_page(
        filtered,
        scope_queryset=base,
        cursor_pk=_cursor_pk(scope),
        page=page,
        fields=CUSTOMER_FIELDS,
        scope_values=(scope.merchant_id, scope.livemode),
    )


def _cursor_pk(scope: Scope) -> Callable[[str], RawSQL]:
    """The pk of the cursor customer, as plain SQL inside the page query: an ORM Subquery costs
    ~0.2 ms more to compile on every page (bench/run.py)."""

    def lookup(public_id: str) -> RawSQL:
        return RawSQL(
            "SELECT id FROM customers_customer WHERE public_id = %s AND merchant_id = %s AND livemode = %s",
            [public_id, scope.merchant_id, scope.livemode],
        )

    return lookup


def bank_accounts_of(*, customer: Customer) -> QuerySet[BankAccount]:
    return BankAccount.objects.filter(customer_id=customer.pk)


def bank_account_get(*, customer: Customer, bank_account_id: str) -> BankAccount:
    queryset = bank_accounts_of(customer=customer)
    return get_by_public_id(queryset, bank_account_id, prefix="ba", noun="bank account", param="bankAccountId")


def bank_account_list(*, customer: Customer, params) -> Page:
    """A page of the customer's accounts (active and disabled), newest first."""
    base = bank_accounts_of(customer=customer)
    filtered, page = parse_list_query(BankAccountFilter, params, base, id_prefix="ba")

    def cursor_pk(public_id: str) -> RawSQL:
        return RawSQL(
            "SELECT id FROM customers_bankaccount WHERE public_id = %s AND customer_id = %s", [public_id, customer.pk]
        )

    return keyset_page(
        filtered,
        scope_queryset=base,
        cursor_pk=cursor_pk,
        page=page,
        fields=BANK_ACCOUNT_FIELDS,
        scope_columns=("customer_id",),
        scope_values=(customer.pk,),
    )


def customers_planned_count(*, scope: Scope) -> int:
    """How many customers the planner believes the scope has (from its statistics, without counting): the
    importer refreshes them only when a merchant's size has doubled since."""
    plan = orjson.loads(customers_in_scope(scope=scope).values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])
