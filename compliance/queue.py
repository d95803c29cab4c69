"""The review queue's reads: everything waiting for a person, oldest first (compliance.admin shows it).

Two kinds of items, each read off a partial index of only what is waiting, so a page costs the same with a
million payouts as with a hundred:
- held payouts (payouts.holds), index payout_held_queue (id, where status = 'held');
- bank accounts flagged for review (customers.review), index bank_account_needs_review (where
  needs_review). A customer is "flagged for review" through its flagged accounts: its item is the account's,
  and the page offers the customer's verify/reject beside clearing the account's flag.

Oldest first: by id within each kind (ids grow with creation), the two merged by creation time. A page is
read by keyset: one cursor per kind (the last id shown of each), never OFFSET.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from compliance.models import Assignment
from customers.models import BankAccount
from payouts import holds
from payouts.models import Payout

PAYOUT, ACCOUNT = Assignment.Kind.PAYOUT.value, Assignment.Kind.BANK_ACCOUNT.value
ACCOUNT_REASON = "account_flagged"  # the reason filter's value for flagged accounts
REASONS = (*holds.REASONS, ACCOUNT_REASON)
COUNT_UP_TO = 1000


@dataclass(frozen=True)
class Filters:
    reason: str | None = None  # a hold reason code, or ACCOUNT_REASON
    merchant_id: int | None = None
    assignee_id: int | None = None  # only items this staff member took


@dataclass
class Item:
    kind: str
    pk: int
    created_at: datetime
    merchant_name: str
    merchant_id: int
    reasons: list[str]
    summary: str  # amount, or the account's masked number and holder
    subject: str  # the payout's or account's public id
    customer_public_id: str | None
    assignee: str | None = None

    @property
    def age(self):
        return timezone.now() - self.created_at


@dataclass(frozen=True)
class QueuePage:
    items: list[Item]
    next_cursor: tuple[int, int] | None  # (last payout id, last account id) to read the next page from
    counts: dict[str, str]


def held_payouts(filters: Filters) -> QuerySet[Payout]:
    queryset = Payout.objects.filter(status=Payout.Status.HELD)
    if filters.reason in holds.REASONS:
        queryset = queryset.filter(hold_reasons__contains=[filters.reason])
    elif filters.reason is not None:
        return queryset.none()
    return _merchant_and_assignee(queryset, PAYOUT, filters)


def _merchant_and_assignee(queryset: QuerySet, kind: str, filters: Filters) -> QuerySet:
    """The filters both kinds share: one merchant, and the items taken by one analyst."""
    if filters.merchant_id is not None:
        queryset = queryset.filter(merchant_id=filters.merchant_id)
    if filters.assignee_id is not None:
        taken = Assignment.objects.filter(kind=kind, assignee_id=filters.assignee_id).values("object_id")
        queryset = queryset.filter(pk__in=taken)
    return queryset


def flagged_accounts(filters: Filters) -> QuerySet[BankAccount]:
    queryset = BankAccount.objects.filter(needs_review=True)
    if filters.reason not in (None, ACCOUNT_REASON):
        return queryset.none()
    return _merchant_and_assignee(queryset, ACCOUNT, filters)


def queue_page(filters: Filters, *, after: tuple[int, int] = (0, 0), size: int = 50) -> QueuePage:
    """One page of the queue after the cursor: at most size + 1 rows of each kind read (by index order),
    merged by creation time; the merchants' names, assignees joined in one query each."""
    after_payout, after_account = after
    payouts = list(
        held_payouts(filters)
        .filter(pk__gt=after_payout)
        .order_by("id")
        .select_related("merchant")
        .only(
            "id",
            "created_at",
            "amount",
            "currency",
            "hold_reasons",
            "public_id",
            "customer_public_id",
            "merchant__name",
        )[: size + 1]
    )
    accounts = list(
        flagged_accounts(filters)
        .filter(pk__gt=after_account)
        .order_by("id")
        .select_related("merchant", "customer")
        .only(
            "id",
            "created_at",
            "review_reason",
            "public_id",
            "account_number_last4",
            "holder_name",
            "merchant__name",
            "customer__public_id",
        )[: size + 1]
    )
    items = sorted(
        [_payout_item(p) for p in payouts] + [_account_item(a) for a in accounts],
        key=lambda item: (item.created_at, item.kind, item.pk),
    )
    more = len(items) > size
    items = items[:size]
    _with_assignees(items)
    last_payout = max((i.pk for i in items if i.kind == PAYOUT), default=after_payout)
    last_account = max((i.pk for i in items if i.kind == ACCOUNT), default=after_account)
    return QueuePage(items, (last_payout, last_account) if more else None, _counts(filters))


def _payout_item(payout: Payout) -> Item:
    return Item(
        kind=PAYOUT,
        pk=payout.pk,
        created_at=payout.created_at,
        merchant_name=payout.merchant.name,
        merchant_id=payout.merchant_id,
        reasons=list(payout.hold_reasons),
        summary=f"{payout.amount:,.2f} {payout.currency}",
        subject=payout.public_id,
        customer_public_id=payout.customer_public_id,
    )


def _account_item(account: BankAccount) -> Item:
    return Item(
        kind=ACCOUNT,
        pk=account.pk,
        created_at=account.created_at,
        merchant_name=account.merchant.name,
        merchant_id=account.merchant_id,
        reasons=[reason for reason in account.review_reason.split("; ") if reason],
        summary=f"…{account.account_number_last4 or '—'} {account.holder_name}",
        subject=account.public_id,
        customer_public_id=account.customer.public_id,
    )


def _with_assignees(items: list[Item]) -> None:
    if not items:
        return
    keys = {(item.kind, item.pk): item for item in items}
    kinds = {item.kind for item in items}  # (kind, object_id): the unique index assignment_one_per_item
    rows = Assignment.objects.filter(kind__in=kinds, object_id__in=[item.pk for item in items]).values_list(
        "kind", "object_id", "assignee__username"
    )
    for kind, object_id, username in rows:
        if (kind, object_id) in keys:
            keys[(kind, object_id)].assignee = username


def _counts(filters: Filters) -> dict[str, str]:
    """How many of each kind wait: exact up to COUNT_UP_TO (each an index-only read of the partial index)."""
    counts = {}
    for kind, queryset in ((PAYOUT, held_payouts(filters)), (ACCOUNT, flagged_accounts(filters))):
        counted = queryset.order_by()[: COUNT_UP_TO + 1].count()
        counts[kind] = f"more than {COUNT_UP_TO:,}" if counted > COUNT_UP_TO else f"{counted:,}"
    return counts


def assignment_of(kind: str, pk: int) -> Assignment | None:
    return Assignment.objects.select_related("assignee").filter(kind=kind, object_id=pk).first()
