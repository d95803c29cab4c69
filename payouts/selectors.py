from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from core.filters import parse_list_query
from core.lookups import get_by_public_id
from core.pagination import Page, keyset_page
from core.scope import Scope
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
