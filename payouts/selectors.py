from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from core import crypto
from core.filters import parse_list_query
from core.lookups import get_by_public_id
from core.pagination import Page, keyset_page
from core.scope import Scope
from core.search import Kind, Term
from customers.models import BankAccount
from customers.selectors import bank_account_ids_with_tax_id, customers_with_email, every_scope
from payouts.filters import PayoutFilter
from payouts.models import Payout

# The columns the API shows: the selectors read exactly these (serializers render them).
PAYOUT_FIELDS = (
    "public_id",
    "amount",
    "currency",
    "status",
    "customer_public_id",
    "bank_account_public_id",
    "destination_last4",
    "description",
    "metadata",
    "failure_code",
    "failure_message",
    "hold_reasons",
    "created_at",
    "livemode",
)


def payouts_in_scope(*, scope: Scope) -> QuerySet[Payout]:
    return Payout.objects.filter(merchant_id=scope.merchant_id, livemode=scope.livemode)


def payout_get(*, scope: Scope, payout_id: str) -> Payout:
    return get_by_public_id(payouts_in_scope(scope=scope), payout_id, prefix="po", noun="payout", param="payoutId")


def payout_list(*, scope: Scope, params) -> Page:
    base = payouts_in_scope(scope=scope)
    filtered, page = parse_list_query(PayoutFilter, params, base, id_prefix="po")

    def cursor_pk(public_id: str) -> RawSQL:
        return RawSQL(
            "SELECT id FROM payouts_payout WHERE public_id = %s AND merchant_id = %s AND livemode = %s",
            [public_id, scope.merchant_id, scope.livemode],
        )

    return keyset_page(
        filtered,
        scope_queryset=base,
        cursor_pk=cursor_pk,
        page=page,
        fields=PAYOUT_FIELDS,
        scope_values=(scope.merchant_id, scope.livemode),
    )


def payouts_search(queryset: QuerySet[Payout], term: Term) -> QuerySet[Payout] | None:
    """The payouts `term` names (the back-office's search): by id (theirs, their customer's or account's),
    the last four digits or full number they were sent to, or their customer's CUIT/CUIL or email."""
    value = term.value
    match term.kind:
        case Kind.PUBLIC_ID if term.prefix == "po":
            return queryset.filter(public_id=value)
        case Kind.PUBLIC_ID if term.prefix == "cust":
            return queryset.filter(customer_public_id=value)
        case Kind.PUBLIC_ID if term.prefix == "ba":
            # By the account's customer first: payouts have an index on their customer, not their account.
            customer = BankAccount.objects.filter(public_id=value).values("customer__public_id")
            return queryset.filter(customer_public_id__in=customer, bank_account_public_id=value)
        case Kind.LAST4:
            return queryset.filter(destination_last4=value)
        case Kind.ACCOUNT_NUMBER:
            to_number = every_scope(Payout.objects.filter(destination_fingerprint=crypto.fingerprint(value)))
            return queryset.filter(pk__in=to_number.values("pk"))
        case Kind.TAX_ID:
            return queryset.filter(customer_public_id__in=bank_account_ids_with_tax_id(value, "customer__public_id"))
        case Kind.EMAIL:
            return queryset.filter(customer_public_id__in=customers_with_email(value).values("public_id"))
    return None
