"""Limits: consumed by every payout in its own write batch, given back when a payout ends without money
leaving, and set in the back-office under maker-checker.

Maker-checker: a change that makes limits stricter (lowering one, or setting one where there was none)
applies at once: it can only stop money. A change that loosens them (raising one, removing one) waits as a
PayoutLimitChange until a second, different compliance admin approves it. Every step is in the audit trail
with the person's name.
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_event_record
from core import db
from core.errors import Conflict, InvalidParameters, NotPermitted
from core.rendering import iso_utc
from core.scope import Scope
from limits import sql
from limits.models import CURRENCY, CUSTOMER_DAILY, DAILY, FIELDS, NAMES, SINGLE, PayoutLimit, PayoutLimitChange
from limits.models import PayoutLimitUsage as Usage
from merchants.models import Merchant

LIMIT_EXCEEDED_SQLSTATE = sql.SQLSTATE
TIME_ZONE = ZoneInfo(sql.TIME_ZONE)


class LimitExceeded(NotPermitted):
    code = "limit_exceeded"


class LimitChangeNotPending(Conflict):
    code = "limit_change_not_pending"


class OwnLimitChange(NotPermitted):
    code = "limit_change_own"


def limits_day(at: datetime) -> date:
    """The calendar day, in Argentina, that a payout created at `at` counts on."""
    return timezone.localtime(at, TIME_ZONE).date()


def day_end(day: date) -> datetime:
    """When `day`'s limits reset: the next midnight in Argentina (in UTC, as the API shows times)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=TIME_ZONE).astimezone(UTC)


# Payouts: consume and release.

CONSUME = "SELECT limits_consume(%s, %s, %s, %s, %s)"


def limits_consume(*, scope: Scope, customer_public_id: str | None, amount: Decimal, at: datetime) -> None:
    """Check the payout against the merchant's limits and count it, as one statement of the caller's write
    batch (limits/sql.py); over a limit, the batch raises LimitExceeded and writes nothing."""
    db.execute(CONSUME, (scope.merchant_id, scope.livemode, customer_public_id, amount, limits_day(at)))


def limit_exceeded_from_detail(detail: str) -> LimitExceeded:
    """The API's error for the database's refusal (core.db.register_refusal)."""
    facts = json.loads(detail)
    name, limit, day = facts["limit"], Decimal(facts["max"]), date.fromisoformat(facts["day"])
    used = None if facts["used"] is None else Decimal(facts["used"])
    remaining = limit if used is None else max(limit - used, Decimal("0.00"))
    shown: dict[str, Any] = {"type": name, "amount": f"{limit:.2f}", "currency": CURRENCY}
    if name == SINGLE:
        message = f"The amount is over the maximum single payout of {limit:.2f} {CURRENCY}."
    else:
        whose = "this customer's daily" if name == CUSTOMER_DAILY else "the daily"
        message = (
            f"This payout would take {whose} payouts over their limit of {limit:.2f} {CURRENCY}: "
            f"{remaining:.2f} {CURRENCY} remain today (Argentina's calendar day)."
        )
        shown |= {"used": f"{used:.2f}", "resetsAt": iso_utc(day_end(day))}
    shown["remaining"] = f"{remaining:.2f}"
    return LimitExceeded(message, param="amount", extra={"limit": shown})


RELEASE = """
WITH given AS (
    SELECT merchant_id, livemode, day, customer_public_id, sum(amount) AS amount
      FROM unnest(%s::bigint[], %s::boolean[], %s::date[], %s::text[], %s::numeric[])
           AS t(merchant_id, livemode, day, customer_public_id, amount)
     GROUP BY 1, 2, 3, 4
), locked AS (
    -- In the order payouts take them (the day's counter, then the customers'): no deadlock with them.
    SELECT u.id, g.amount FROM limits_payoutlimitusage u
      JOIN given g USING (merchant_id, livemode, day, customer_public_id)
     ORDER BY u.merchant_id, u.livemode, u.day, u.customer_public_id
       FOR UPDATE OF u
)
UPDATE limits_payoutlimitusage u SET used = greatest(u.used - locked.amount, 0)
  FROM locked WHERE u.id = locked.id
"""


def limits_release(*, payouts: list) -> None:
    """Give back the amounts of payouts that ended without money leaving (failed, canceled), to the days
    they counted on, in the caller's transaction. Only counters that exist change: a day no limit counted
    has none (and a counter started later counted only payouts still standing)."""
    rows: list[tuple] = []
    for payout in payouts:
        day = limits_day(payout.created_at)
        rows.append((payout.merchant_id, payout.livemode, day, "", payout.amount))
        if payout.customer_public_id:
            rows.append((payout.merchant_id, payout.livemode, day, payout.customer_public_id, payout.amount))
    if rows:
        db.execute(RELEASE, tuple(list(column) for column in zip(*rows, strict=True)))


# The back-office: maker-checker.


@dataclass(frozen=True)
class LimitsSet:
    limits: PayoutLimit
    applied: dict[str, Decimal]  # stricter: in force now
    pending: PayoutLimitChange | None  # looser: waiting for a second admin


def _actor(user) -> str:
    return f"staff:{user.get_username()}"


def _shown(values: dict[str, Decimal | None]) -> dict[str, str | None]:
    return {NAMES[field]: None if value is None else f"{value:.2f}" for field, value in values.items()}


def _stricter(current: Decimal | None, new: Decimal | None) -> bool:
    return new is not None and (current is None or new < current)


def limit_value_problem(value: Decimal | None) -> str | None:
    """Why a limit cannot take this value (None: no limit, fine), or None when it can: the one rule, said by
    the service and by the back-office form alike."""
    if value is not None and value <= 0:
        return f"A limit must be more than 0.00 {CURRENCY}."
    return None


@transaction.atomic
def limits_set(
    *, merchant: Merchant, livemode: bool, values: dict[str, Decimal | None], by, reason: str = ""
) -> LimitsSet:
    """A compliance admin sets limits (values by field name: single_max, daily_max, customer_daily_max; a
    field left out keeps its value). Stricter values apply now; looser ones become one pending change
    (superseding any change still pending for this merchant and mode)."""
    unknown = set(values) - set(FIELDS.values())
    if unknown:
        raise InvalidParameters(f"Unknown limits: {sorted(unknown)}.")
    for field, value in values.items():
        if problem := limit_value_problem(value):
            raise InvalidParameters.single(field, "parameter_invalid", problem)
    limits = _locked_limits(merchant, livemode)
    stricter, looser = {}, {}
    for field, value in values.items():
        current = getattr(limits, field)
        if value == current:
            continue
        (stricter if _stricter(current, value) else looser)[field] = value
    if stricter:
        _apply(limits, stricter)
        audit_event_record(limits, label="limits_lowered", actor=_actor(by), limits=_shown(stricter), reason=reason)
    pending = None
    if looser:
        _supersede(merchant, livemode, by)
        pending = PayoutLimitChange.objects.create(
            merchant=merchant, livemode=livemode, proposed=_shown(looser), proposed_by=by, reason=reason
        )
        audit_event_record(
            pending, label="limit_change_proposed", actor=_actor(by), limits=_shown(looser), reason=reason
        )
    return LimitsSet(limits=limits, applied=stricter, pending=pending)


GATE = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def _locked_limits(merchant: Merchant, livemode: bool) -> PayoutLimit:
    """The limits' row, locked, behind the gate every payout passes shared (limits/sql.py): a change waits
    for the payouts that read the limits before it."""
    with connection.cursor() as cursor:
        cursor.execute(GATE, [f"limits:{merchant.pk}:{'true' if livemode else 'false'}"])
    PayoutLimit.objects.get_or_create(merchant=merchant, livemode=livemode)
    return PayoutLimit.objects.select_for_update().get(merchant=merchant, livemode=livemode)


def _apply(limits: PayoutLimit, values: dict[str, Decimal | None]) -> None:
    for field, value in values.items():
        setattr(limits, field, value)
    limits.updated_at = timezone.now()
    limits.save()
    # A limit removed stops being counted: its counters from today on go, so that a limit set again later
    # starts from the day's payouts instead of a count that missed some (limits/sql.py).
    today = limits_day(timezone.now())
    if DAILY in (removed := {NAMES[f] for f, v in values.items() if v is None}):
        Usage.objects.filter(
            merchant=limits.merchant_id, livemode=limits.livemode, day__gte=today, customer_public_id=""
        ).delete()
    if CUSTOMER_DAILY in removed:
        Usage.objects.filter(merchant=limits.merchant_id, livemode=limits.livemode, day__gte=today).exclude(
            customer_public_id=""
        ).delete()


def _supersede(merchant: Merchant, livemode: bool, by) -> None:
    for change in PayoutLimitChange.objects.select_for_update().filter(
        merchant=merchant, livemode=livemode, status=PayoutLimitChange.Status.PENDING
    ):
        _decide(change, PayoutLimitChange.Status.SUPERSEDED, by, "superseded by a newer proposal")


def _decide(change: PayoutLimitChange, status: str, by, reason: str) -> None:
    change.status, change.decided_by, change.decided_at = status, by, timezone.now()
    if reason:
        change.reason = f"{change.reason}\n{status}: {reason}".strip()[:500]
    change.save()
    audit_event_record(change, label=f"limit_change_{status}", actor=_actor(by), reason=reason)


def _locked_pending(change: PayoutLimitChange) -> PayoutLimitChange:
    change = PayoutLimitChange.objects.select_for_update().get(pk=change.pk)
    if change.status != PayoutLimitChange.Status.PENDING:
        raise LimitChangeNotPending(f"This change is {change.status}, no longer pending.")
    return change


@transaction.atomic
def limit_change_approve(*, change: PayoutLimitChange, by, reason: str = "") -> PayoutLimit:
    """A second compliance admin approves a pending loosening: it applies now. Its proposer cannot."""
    # The limits' row before the change's, as limits_set takes them (the other order deadlocked with a new
    # proposal for the same merchant).
    limits = _locked_limits(change.merchant, change.livemode)
    change = _locked_pending(change)
    if change.proposed_by_id == by.pk:
        raise OwnLimitChange("A limit change needs a second compliance admin: its proposer cannot approve it.")
    values = {FIELDS[name]: None if value is None else Decimal(value) for name, value in change.proposed.items()}
    _apply(limits, values)
    _decide(change, PayoutLimitChange.Status.APPROVED, by, reason)
    return limits


@transaction.atomic
def limit_change_refuse(*, change: PayoutLimitChange, by, reason: str = "") -> None:
    """Refuse a pending loosening; the limits stay as they are. Its proposer may (withdrawing it)."""
    _decide(_locked_pending(change), PayoutLimitChange.Status.REFUSED, by, reason)
