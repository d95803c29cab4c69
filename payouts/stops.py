"""A "no" that stops money: compliance rejected the customer, or the merchant disabled the account.

This module is the one home of that rule. It is enforced at three moments, so a decision is never
overtaken by a payout already in the queue:
- when a payout is created (payouts.services.resolve_destination, and `number_stop` for one-offs);
- in the transaction that claims a payout for the rail (`stopped_payouts`, from payouts_claim);
- when the decision is taken: the payouts still pending fail at once, in the decision's own transaction
  (payouts.services.payouts_fail_stopped, run by the customers app's decision signals: payouts.apps).

Lock order, and why the worker cannot overtake a decision: a decision locks its customer or account row,
then the pending payouts it stops (waiting for any worker that holds them). The worker never waits: it
claims with SKIP LOCKED and reads the decision with plain reads in its claim transaction. So either the
decision committed before the claim read it (the payout fails), or the claim read it first: then the
claim is serialised before the decision (a decision waiting for the payout's lock finds it no longer
pending; one that did not see the payout, created meanwhile, commits after the claim), and the payout was
already with the rail. A payout created in the instant between a decision's commit and the creation's own
check is accepted (201) and then fails at the claim with the decision's code: money never moves.

The rule, for a payout to a saved customer: its customer is rejected (`customer_rejected`), or its
account is disabled (`account_disabled`). For a one-off payout (destinationCbu alone) it is about the
number, among the merchant's accounts in that mode: on an account of a rejected customer
(`customer_rejected`), or on disabled accounts only (`account_disabled`; a number the merchant disabled and
then added again, to this or another customer, can be paid). The same rule applies in test and live mode.
"""

from dataclasses import dataclass

from django.db import connection

from core.scope import Scope
from customers.models import Customer


@dataclass(frozen=True)
class Stop:
    code: str
    message: str


CUSTOMER_REJECTED = Stop("customer_rejected", "This customer was rejected by compliance review: it cannot be paid.")
ACCOUNT_DISABLED = Stop("account_disabled", "This bank account was disabled: it cannot be paid.")
STOPS = {stop.code: stop for stop in (CUSTOMER_REJECTED, ACCOUNT_DISABLED)}
# The same codes for a one-off payout, which names no customer or account: the message is about the number.
NUMBER_STOPS_BY_CODE = {
    "customer_rejected": Stop(
        "customer_rejected",
        "This account number belongs to a customer rejected by compliance review: it cannot be paid.",
    ),
    "account_disabled": Stop(
        "account_disabled", "This account number is only on disabled bank accounts: it cannot be paid."
    ),
}

# Each number's stop code among one merchant's accounts in one mode; numbers on no account are absent.
# Rows in, as parallel arrays: a key of the caller's, the merchant, the mode, the number's fingerprint.
NUMBER_STOPS = """
SELECT t.key, CASE WHEN bool_or(c.verification_status = 'rejected') THEN 'customer_rejected'
                   WHEN NOT bool_or(b.status = 'active') THEN 'account_disabled' END
  FROM unnest(%s::bigint[], %s::bigint[], %s::boolean[], %s::text[]) AS t(key, merchant_id, livemode, fingerprint)
  JOIN customers_bankaccount b
    ON b.merchant_id = t.merchant_id AND b.livemode = t.livemode AND b.account_number_fingerprint = t.fingerprint
  JOIN customers_customer c ON c.id = b.customer_id
 GROUP BY t.key
"""

# Each payout's own stop code (saved customers: its customer and account), and what a one-off's needs.
PAYOUT_STOPS = """
SELECT p.id, p.customer_public_id IS NULL, p.merchant_id, p.livemode, p.destination_fingerprint,
       CASE WHEN p.customer_public_id IS NULL THEN NULL  -- a one-off: its number decides (NUMBER_STOPS)
            WHEN c.verification_status = 'rejected' THEN 'customer_rejected'
            WHEN b.status IS DISTINCT FROM 'active' THEN 'account_disabled' END  -- no account: not payable
  FROM payouts_payout p
  LEFT JOIN customers_customer c ON c.public_id = p.customer_public_id
  LEFT JOIN customers_bankaccount b ON b.public_id = p.bank_account_public_id
 WHERE p.id = ANY(%s)
"""


def customer_stop(*, verification: str) -> Stop | None:
    """The rule for a saved customer's payout, from its verification status (read by the caller)."""
    return CUSTOMER_REJECTED if verification == Customer.Verification.REJECTED else None


def number_stop(*, scope: Scope, fingerprint: str) -> Stop | None:
    """The rule for a one-off payout to this number."""
    return _number_stops([(0, scope.merchant_id, scope.livemode, fingerprint)]).get(0)


def stopped_payouts(payout_ids: list[int]) -> dict[int, Stop]:
    """The payouts among these that must not be paid, with why. At most two queries, whatever the batch."""
    if not payout_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(PAYOUT_STOPS, [payout_ids])
        rows = cursor.fetchall()
    stopped = {pk: STOPS[code] for pk, _, _, _, _, code in rows if code is not None}
    one_offs = [
        (pk, merchant_id, livemode, fingerprint)
        for pk, one_off, merchant_id, livemode, fingerprint, _ in rows
        if one_off
    ]
    return stopped | _number_stops(one_offs)


def _number_stops(numbers: list[tuple[int, int, bool, str]]) -> dict[int, Stop]:
    """(key, merchant_id, livemode, fingerprint) rows → the stop of each key whose number is stopped."""
    if not numbers:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(NUMBER_STOPS, [list(column) for column in zip(*numbers, strict=True)])
        return {key: NUMBER_STOPS_BY_CODE[code] for key, code in cursor.fetchall() if code is not None}
