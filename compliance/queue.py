"""The review queue's reads: everything waiting for a person, oldest first (compliance.admin shows it).

Two kinds of items, each read off a partial index of only what is waiting, so a page costs the same with a
million payouts as with a hundred:
- held payouts (payouts.holds), index payout_held_queue (id, where status = 'held');
- bank accounts flagged for review (customers.review), index bank_account_review_queue ((flagged_at, id),
  where needs_review). A customer is "flagged for review" through its flagged accounts: its item is the
  account's, and the page offers the customer's verify/reject beside clearing the account's flag.

Oldest first, by when each started waiting: a held payout since it was created (by id, ids grow with
creation), a flagged account since it was flagged (flagged_at, then id: an account made a year ago and
flagged today waits since today); the two merged by that time. A page is read by keyset: one cursor per
kind (the last payout's id; the last account's flagged_at and id), never OFFSET.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
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


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after this held payout (by id) and after this flagged account (by flagged_at,
    then id); account_flagged_at None: from the first account."""

    payout_id: int = 0
    account_flagged_at: datetime | None = None
    account_id: int = 0


START = Cursor()


@dataclass
class Item:
    kind: str
    pk: int
    waiting_since: datetime  # a payout's creation, an account's flagging
    merchant_name: str
    merchant_id: int
    reasons: list[str]
    summary: str  # amount, or the account's masked number and holder
    subject: str  # the payout's or account's public id
    customer_public_id: str | None
    assignee: str | None = None

    @property
    def age(self):
        return timezone.now() - self.waiting_since


@dataclass(frozen=True)
class QueuePage:
    items: list[Item]
    next_cursor: Cursor | None  # the last item shown of each kind, to read the next page from
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


def queue_page(filters: Filters, *, after: Cursor = START, size: int = 50) -> QueuePage:
    """One page of the queue after the cursor: at most size + 1 rows of each kind read (by index order),
    merged by when each started waiting; the merchants' names, assignees joined in one query each."""
    payouts = list(
        held_payouts(filters)
        .filter(pk__gt=after.payout_id)
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
    accounts = flagged_accounts(filters)
    if after.account_flagged_at is not None:
        accounts = accounts.filter(_accounts_after(after.account_flagged_at, after.account_id))
    accounts = list(
        accounts.order_by("flagged_at", "id")
        .select_related("merchant", "customer")
        .only(
            "id",
            "flagged_at",
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
        key=lambda item: (item.waiting_since, item.kind, item.pk),
    )
    more = len(items) > size
    items = items[:size]
    _with_assignees(items)
    last_payout = max((i.pk for i in items if i.kind == PAYOUT), default=after.payout_id)
    last_account = max(
        ((i.waiting_since, i.pk) for i in items if i.kind == ACCOUNT),
        default=(after.account_flagged_at, after.account_id),
    )
    return QueuePage(items, Cursor(last_payout, *last_account) if more else None, _counts(filters))


def _accounts_after(flagged_at: datetime, pk: int) -> RawSQL:
    """(flagged_at, id) > (cursor's): a row comparison, which the index (flagged_at, id) reads as one range
    from the cursor on. The ORM's (a > x OR (a = x AND b > y)) leaves the second half to a filter, which
    reads past every account of an earlier page flagged at the same time (an import batch flags thousands
    in one statement)."""
    return RawSQL(
        '("customers_bankaccount"."flagged_at", "customers_bankaccount"."id") > (%s, %s)',
        (flagged_at, pk),
        output_field=BooleanField(),
    )


def _payout_item(payout: Payout) -> Item:
    return Item(
        kind=PAYOUT,
        pk=payout.pk,
        waiting_since=payout.created_at,
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
        waiting_since=account.flagged_at,
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
