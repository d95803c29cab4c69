"""When a new payout waits for compliance (status "held"), and why: every hold rule, in one place.

A payout matching any rule is created held, with every matching reason's code in `holdReasons`, and the
worker never sees it (its queue index holds pending and processing payouts only) until an analyst
approves it (→ pending) or rejects it (→ failed, compliance_rejected): payouts.services. The rules
(README "Holds"), each with its setting:

- `amount_over_threshold`: the amount is at least the merchant's own threshold
  (Merchant.compliance_hold_amount, set by a compliance admin) or else COMPLIANCE_HOLD_AMOUNT.
- `account_needs_review`: the account paid (or, for a one-off, any of the merchant's accounts with that
  number) is flagged for review (customers.review).
- `customer_needs_review`: another of the customer's accounts is flagged for review: the beneficiary is
  under review, whichever of its accounts is paid.
- `customer_unverified`: the customer is not verified and the amount is above
  COMPLIANCE_UNVERIFIED_HOLD_AMOUNT.
- `details_recently_changed`: the account's number or holder was set within COMPLIANCE_RECENT_CHANGE_HOURS
  and the amount is at least COMPLIANCE_LARGE_PAYOUT_AMOUNT (customers.review's rule, which also flags the
  account; now the payout waits too).
- `velocity_exceeded`: the customer's payouts created in the last 24 hours (any status but failed or
  canceled: held ones count) plus this one are above COMPLIANCE_VELOCITY_AMOUNT. Read from the customer's
  hourly totals (VelocityHour), kept in the write batches that create and end payouts.

A one-off payout (destinationCbu alone) has no customer: the amount rule and the number's rules apply
(flagged or recently changed on any of the merchant's accounts in that mode with the number).

The facts are read with the destination, in the same statement where the payout path allows it
(payouts/sql.py: payouts_default_destination), so holds cost POST /payouts no round trip on its main path.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction

from core import db
from customers import review
from customers.models import Customer
from payouts.models import VelocityHour

AMOUNT = "amount_over_threshold"
ACCOUNT_REVIEW = "account_needs_review"
CUSTOMER_REVIEW = "customer_needs_review"
UNVERIFIED = "customer_unverified"
RECENT_CHANGE = "details_recently_changed"
VELOCITY = "velocity_exceeded"
REASONS = (AMOUNT, ACCOUNT_REVIEW, CUSTOMER_REVIEW, UNVERIFIED, RECENT_CHANGE, VELOCITY)
VELOCITY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about a payout's destination, read with it."""

    merchant_hold_amount: Decimal | None = None
    verification: str | None = None  # None: a one-off payout
    account_needs_review: bool = False
    customer_needs_review: bool = False
    details_changed_at: datetime | None = None
    recent_total: Decimal = Decimal("0")  # the customer's payouts in VELOCITY_WINDOW, failed and canceled aside


def hold_reasons(facts: Facts, amount: Decimal, now: datetime) -> list[str]:
    """The codes of every rule the payout matches, in REASONS' order; [] for a payout that is not held."""
    threshold = (
        Decimal(settings.COMPLIANCE_HOLD_AMOUNT) if facts.merchant_hold_amount is None else facts.merchant_hold_amount
    )
    matched = {
        AMOUNT: amount >= threshold,
        ACCOUNT_REVIEW: facts.account_needs_review,
        CUSTOMER_REVIEW: facts.customer_needs_review,
        UNVERIFIED: facts.verification == Customer.Verification.UNVERIFIED
        and amount > Decimal(settings.COMPLIANCE_UNVERIFIED_HOLD_AMOUNT),
        RECENT_CHANGE: review.recently_changed(facts.details_changed_at, amount, now),
        VELOCITY: facts.verification is not None
        and facts.recent_total + amount > Decimal(settings.COMPLIANCE_VELOCITY_AMOUNT),
    }
    return [code for code in REASONS if matched[code]]


def needs_four_eyes(amount: Decimal) -> bool:
    """Two different analysts must approve a held payout this large (COMPLIANCE_FOUR_EYES_AMOUNT)."""
    return amount >= Decimal(settings.COMPLIANCE_FOUR_EYES_AMOUNT)


def velocity_since(now: datetime) -> datetime:
    return now - VELOCITY_WINDOW


def velocity_hour(at: datetime) -> datetime:
    """The hour (UTC) whose running total (VelocityHour) a payout created at `at` counts in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


VELOCITY_ADD = """
INSERT INTO payouts_velocityhour AS v (customer_public_id, hour, amount) VALUES (%s, %s, %s)
    ON CONFLICT (customer_public_id, hour) DO UPDATE SET amount = v.amount + EXCLUDED.amount
"""

VELOCITY_RELEASE = """
WITH given AS (
    SELECT customer_public_id, hour, sum(amount) AS amount
      FROM unnest(%s::text[], %s::timestamptz[], %s::numeric[]) AS t(customer_public_id, hour, amount)
     GROUP BY 1, 2
), locked AS (
    -- In one order, so two transitions giving back to the same customers cannot deadlock.
    SELECT v.customer_public_id, v.hour, g.amount FROM payouts_velocityhour v
      JOIN given g USING (customer_public_id, hour)
     ORDER BY v.customer_public_id, v.hour
       FOR UPDATE OF v
)
UPDATE payouts_velocityhour v SET amount = v.amount - locked.amount
  FROM locked WHERE v.customer_public_id = locked.customer_public_id AND v.hour = locked.hour
"""


def velocity_count(*, customer_public_id: str | None, amount: Decimal, at: datetime) -> None:
    """Add a new payout to its customer's hourly total, in the payout's write batch (one-offs have none).
    Last of the batch's locks: a transition giving amounts back takes it last too."""
    if customer_public_id is not None:
        db.execute(VELOCITY_ADD, (customer_public_id, velocity_hour(at), amount))


def velocity_release(*, payouts: list) -> None:
    """Give back the amounts of payouts that ended without money leaving (failed, canceled), in the
    caller's transaction. An hour already purged (past the window) has nothing to give back to."""
    rows = [(p.customer_public_id, velocity_hour(p.created_at), p.amount) for p in payouts if p.customer_public_id]
    if rows:
        db.execute(VELOCITY_RELEASE, tuple(list(column) for column in zip(*rows, strict=True)))


def velocity_purge(*, before: datetime) -> int:
    """Delete the hourly totals of hours that ended an hour or more before `before` (the window's start):
    one hour kept past the window, for a request that took its window's start a moment before the purge,
    or on a host whose clock is behind."""
    deleted, _ = VelocityHour.objects.filter(hour__lt=velocity_hour(before) - timedelta(hours=1)).delete()
    return deleted


# The totals of every hour from the one containing %s on, recomputed from the payouts: after a deploy (a
# previous release's servers created and ended payouts without them) or to repair. The lock makes the
# payouts' writes that touch totals wait, or be waited for: a transaction that already added to or gave
# back from a total commits first (and its payout is in the recount); one that has not yet does so after
# the recount, which did not see its uncommitted payout. Used by migration 0009 and rebuild_velocity_hours.
REBUILD = """
LOCK TABLE payouts_velocityhour IN SHARE ROW EXCLUSIVE MODE;
DELETE FROM payouts_velocityhour WHERE hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC');
INSERT INTO payouts_velocityhour (customer_public_id, hour, amount)
SELECT customer_public_id, date_trunc('hour', created_at, 'UTC'), sum(amount)
  FROM payouts_payout
 WHERE customer_public_id IS NOT NULL AND created_at >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
   AND status NOT IN ('failed', 'canceled')
 GROUP BY 1, 2;
"""
REBUILD_HOURS = VELOCITY_WINDOW + timedelta(hours=1)  # the window, and the hour the purge keeps past it


def velocity_rebuild(*, now: datetime) -> None:
    """Recompute the totals of the last REBUILD_HOURS from the payouts (REBUILD), in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(REBUILD, {"since": now - REBUILD_HOURS})


# The facts of a customer's account that cost more than a column: the merchant's own threshold, whether
# another of the customer's accounts is flagged, the customer's last 24 hours of payouts (not read when its
# last_out says it had none). A PL/pgSQL function for its cached plans: as subqueries of the destination read,
# planning them cost POST /payouts about 0.1 ms on every request. Installed by a migration (payouts 0007,
# then 0009 for the hourly totals): a later change to it needs a migration that runs INSTALL again.
#
# The last 24 hours from the customer's hourly totals (VelocityHour, at most 25 rows): the whole hours after
# the window's first, plus, only when that first hour has payouts, that hour's payouts from the window's
# start, read exactly: about a 24th of the payouts the old sum read (every payout of the 24 hours, which cost
# a busy payee milliseconds on each payout).
INSTALL = """
CREATE OR REPLACE FUNCTION payouts_hold_facts(
    p_merchant_id bigint, p_customer_id bigint, p_customer_public_id text, p_account_id bigint,
    p_last_out timestamptz, p_since timestamptz
) RETURNS TABLE (hold_amount numeric, other_flagged boolean, recent_total numeric)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_first_hour timestamptz := date_trunc('hour', p_since, 'UTC');
    v_first_hour_used boolean;
BEGIN
    hold_amount := (SELECT m.compliance_hold_amount FROM merchants_merchant m WHERE m.id = p_merchant_id);
    other_flagged := EXISTS (SELECT 1 FROM customers_bankaccount o
                              WHERE o.customer_id = p_customer_id AND o.needs_review AND o.id <> p_account_id);
    recent_total := 0;
    IF p_last_out >= p_since THEN
        SELECT COALESCE(sum(v.amount) FILTER (WHERE v.hour > v_first_hour), 0),
               COALESCE(bool_or(v.hour = v_first_hour AND v.amount <> 0), FALSE)
          INTO recent_total, v_first_hour_used
          FROM payouts_velocityhour v
         WHERE v.customer_public_id = p_customer_public_id AND v.hour >= v_first_hour;
        IF v_first_hour_used THEN
            recent_total := recent_total + (
                SELECT COALESCE(sum(p.amount), 0) FROM payouts_payout p
                 WHERE p.customer_public_id = p_customer_public_id
                   AND p.created_at >= p_since AND p.created_at < v_first_hour + interval '1 hour'
                   AND p.status NOT IN ('failed', 'canceled'));
        END IF;
    END IF;
    RETURN NEXT;
END
$$;
"""
UNINSTALL = "DROP FUNCTION IF EXISTS payouts_hold_facts(bigint, bigint, text, bigint, timestamptz, timestamptz);"

# A customer's account named in the request (the paths payouts_default_destination does not serve). Parameters: the
# velocity window's start, the account's public id.
ACCOUNT_FACTS = """
SELECT f.hold_amount, b.needs_review, b.details_changed_at, f.other_flagged, f.recent_total
  FROM customers_bankaccount b
  JOIN customers_customer c ON c.id = b.customer_id
 CROSS JOIN LATERAL payouts_hold_facts(b.merchant_id, c.id, c.public_id, b.id, c.last_out, %s) f
 WHERE b.public_id = %s
"""

# A one-off's number among the merchant's accounts in the mode: merchant id, mode, fingerprint.
NUMBER_FACTS = """
SELECT (SELECT m.compliance_hold_amount FROM merchants_merchant m WHERE m.id = %s),
       COALESCE(bool_or(b.needs_review), FALSE), max(b.details_changed_at)
  FROM customers_bankaccount b
 WHERE b.merchant_id = %s AND b.livemode = %s AND b.account_number_fingerprint = %s
"""


# Re-checked at the claim (payouts.services.payouts_claim), in the transaction that hands payouts to the rail,
# for what can change after a payout was created:
# - the flags: a flag raised since (its number now shared with another customer, a flag set by hand);
# - velocity: at creation each payout reads the customer's last 24 hours before the batch that writes it, so
#   parallel requests each saw the others missing and all passed; here each payout counts the customer's
#   payouts of the 24 hours before it with a lower id (created before it), all committed by now but for one
#   still being written at this instant.
# A payout an analyst already approved is not held again for what the analyst saw. Parameters: the velocity
# limit, the payouts' ids.
CLAIM_FLAGS = """
SELECT p.id,
       CASE WHEN p.customer_public_id IS NULL
            THEN EXISTS (SELECT 1 FROM customers_bankaccount n
                          WHERE n.merchant_id = p.merchant_id AND n.livemode = p.livemode
                            AND n.account_number_fingerprint = p.destination_fingerprint AND n.needs_review)
            ELSE COALESCE(b.needs_review, FALSE) END,
       p.customer_public_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM customers_bankaccount o
                    WHERE o.customer_id = b.customer_id AND o.needs_review AND o.id <> b.id),
       p.customer_public_id IS NOT NULL
       AND p.amount + (SELECT COALESCE(sum(q.amount), 0) FROM payouts_payout q
                        WHERE q.customer_public_id = p.customer_public_id
                          AND q.created_at >= p.created_at - interval '24 hours' AND q.id < p.id
                          AND q.status NOT IN ('failed', 'canceled')) > %s
  FROM payouts_payout p
  LEFT JOIN customers_bankaccount b ON b.public_id = p.bank_account_public_id
 WHERE p.id = ANY(%s)
   AND NOT EXISTS (SELECT 1 FROM payouts_payoutapproval a WHERE a.payout_id = p.id)
"""


def held_at_claim(payout_ids: list[int]) -> dict[int, list[str]]:
    """The payouts among these that a rule now holds (flags raised since, velocity), with the reasons' codes."""
    if not payout_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_FLAGS, [Decimal(settings.COMPLIANCE_VELOCITY_AMOUNT), payout_ids])
        rows = cursor.fetchall()
    held = {}
    for pk, *hits in rows:
        reasons = [code for code, hit in zip((ACCOUNT_REVIEW, CUSTOMER_REVIEW, VELOCITY), hits, strict=True) if hit]
        if reasons:
            held[pk] = reasons
    return held
