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
  canceled: held ones count) plus this one are above COMPLIANCE_VELOCITY_AMOUNT.

A one-off payout (destinationCbu alone) has no customer: the amount rule and the number's rules apply
(flagged or recently changed on any of the merchant's accounts in that mode with the number).

The facts are read with the destination, in the same statement where the payout path allows it
(payouts.services: DEFAULT_ACCOUNT), so holds cost POST /payouts no round trip on its main path.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from customers import review
from customers.models import Customer

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
    threshold = facts.merchant_hold_amount or Decimal(settings.COMPLIANCE_HOLD_AMOUNT)
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


# The facts' SQL, for the paths DEFAULT_ACCOUNT does not serve. Parameters: merchant id, account public id
# (or NULL), customer public id (or NULL), velocity window start.
ACCOUNT_FACTS = """
SELECT (SELECT m.compliance_hold_amount FROM merchants_merchant m WHERE m.id = %s),
       COALESCE(b.needs_review, FALSE), b.details_changed_at,
       EXISTS (SELECT 1 FROM customers_bankaccount o
                WHERE o.customer_id = b.customer_id AND o.needs_review AND o.id <> b.id),
       (SELECT COALESCE(sum(p.amount), 0) FROM payouts_payout p
         WHERE p.customer_public_id = %s AND p.created_at >= %s AND p.status NOT IN ('failed', 'canceled'))
  FROM (SELECT 1) AS one
  LEFT JOIN customers_bankaccount b ON b.public_id = %s
"""

# A one-off's number among the merchant's accounts in the mode: merchant id, mode, fingerprint.
NUMBER_FACTS = """
SELECT (SELECT m.compliance_hold_amount FROM merchants_merchant m WHERE m.id = %s),
       COALESCE(bool_or(b.needs_review), FALSE), max(b.details_changed_at)
  FROM customers_bankaccount b
 WHERE b.merchant_id = %s AND b.livemode = %s AND b.account_number_fingerprint = %s
"""
