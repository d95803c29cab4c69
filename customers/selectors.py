from collections.abc import Callable

import orjson
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from core import crypto
from core.filters import parse_list_query
from core.lookups import get_by_public_id
from core.pagination import Page, keyset_page
from core.scope import Scope
from core.search import Kind, Term
from customers.filters import BankAccountFilter, CustomerFilter
from customers.models import BankAccount, Customer
from merchants.models import Merchant

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


# The back-office's searches (compliance): each kind of term reaches one index (README "The compliance
# back-office"; compliance/tests/test_search_indexes.py proves it).


def every_scope(queryset: QuerySet) -> QuerySet:
    """`queryset` narrowed to every (merchant, mode): a search for one value across all tenants can then walk
    an index that starts with (merchant, livemode, …) once per scope, instead of scanning the table."""
    return queryset.filter(in_every_scope())


def in_every_scope() -> Q:
    return Q(merchant_id__in=list(Merchant.objects.values_list("pk", flat=True)), livemode__in=[False, True])


# At most this many accounts are taken for one CUIT/CUIL (a CUIT is one person's or business's).
TAX_ID_ACCOUNTS = 1000


def bank_accounts_with_tax_id(tax_id: str) -> QuerySet[BankAccount]:
    """Accounts whose metadata has this CUIT or CUIL (11 digits): the two partial expression indexes."""
    return BankAccount.objects.filter(
        Q(metadata__has_key="cuit", metadata__cuit=tax_id) | Q(metadata__has_key="cuil", metadata__cuil=tax_id)
    )


def bank_account_ids_with_tax_id(tax_id: str, column: str = "pk") -> list:
    """`column` of the accounts with this CUIT or CUIL, read first, on their own: PostgreSQL keeps no
    statistics for a partial index's expression, so inside a larger query it guesses thousands of matches
    and may walk the whole list by id instead (measured: 0.6 s at a million accounts, against 1 ms)."""
    return list(bank_accounts_with_tax_id(tax_id).values_list(column, flat=True)[:TAX_ID_ACCOUNTS])


def bank_accounts_with_number(digits: str) -> QuerySet[BankAccount]:
    """Accounts with this 22-digit number, found by its fingerprint: nothing is decrypted."""
    return every_scope(BankAccount.objects.filter(account_number_fingerprint=crypto.fingerprint(digits)))


def customers_with_email(email: str) -> QuerySet[Customer]:
    return every_scope(Customer.objects.filter(email__in={email, email.lower()}))


def customers_search(queryset: QuerySet[Customer], term: Term) -> QuerySet[Customer] | None:
    """The customers `term` names: by id (theirs, or one of their accounts'), the CUIT/CUIL, last four digits
    or full number of one of their accounts, their email, or a fragment of their name (or their externalId)."""
    value = term.value
    match term.kind:
        case Kind.PUBLIC_ID if term.prefix == "cust":
            return queryset.filter(public_id=value)
        case Kind.PUBLIC_ID if term.prefix == "ba":
            return queryset.filter(pk__in=BankAccount.objects.filter(public_id=value).values("customer_id"))
        case Kind.TAX_ID:
            return queryset.filter(pk__in=bank_account_ids_with_tax_id(value, "customer_id"))
        case Kind.LAST4:
            return queryset.filter(pk__in=BankAccount.objects.filter(account_number_last4=value).values("customer_id"))
        case Kind.ACCOUNT_NUMBER:
            return queryset.filter(pk__in=bank_accounts_with_number(value).values("customer_id"))
        case Kind.EMAIL:
            return queryset.filter(pk__in=customers_with_email(value).values("pk"))
        case Kind.TEXT:
            return queryset.filter(Q(name__icontains=value) | Q(in_every_scope(), external_id=value))
    return None


def bank_accounts_search(queryset: QuerySet[BankAccount], term: Term) -> QuerySet[BankAccount] | None:
    """The accounts `term` names: by id (theirs or their customer's), CUIT/CUIL, last four digits, full
    number, or their customer's email. Names are searched on the customers list."""
    value = term.value
    match term.kind:
        case Kind.PUBLIC_ID if term.prefix == "ba":
            return queryset.filter(public_id=value)
        case Kind.PUBLIC_ID if term.prefix == "cust":
            return queryset.filter(customer_id__in=Customer.objects.filter(public_id=value).values("pk"))
        case Kind.TAX_ID:
            return queryset.filter(pk__in=bank_account_ids_with_tax_id(value))
        case Kind.LAST4:
            return queryset.filter(account_number_last4=value)
        case Kind.ACCOUNT_NUMBER:
            return queryset.filter(pk__in=bank_accounts_with_number(value).values("pk"))
        case Kind.EMAIL:
            return queryset.filter(customer_id__in=customers_with_email(value).values("pk"))
    return None


def customers_planned_count(*, scope: Scope) -> int:
    """How many customers the planner believes the scope has (from its statistics, without counting): the
    importer refreshes them only when a merchant's size has doubled since."""
    plan = orjson.loads(customers_in_scope(scope=scope).values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])
