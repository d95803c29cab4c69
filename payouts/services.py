"""Payout writes: creation (destination rules, holds, last_out), and every status transition.

Status machine: pending → processing → paid | failed, pending → canceled (by the merchant), and
pending → failed (a "no" from compliance or the merchant stopped it: payouts.stops). A payout matching a
hold rule (payouts.holds) starts held: held → pending (approved by compliance), held → failed (rejected by
compliance, or stopped like a pending one), held → canceled (by the merchant). A transition locks the
rows, moves only those still in the expected status, and records a PayoutEvent for each; anything else
is an error, never a silent overwrite.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.context import actor
from audit.services import audit_event_record
from core import crypto, db
from core.errors import Conflict, InvalidParameters, NotPermitted
from core.ids import is_public_id
from core.scope import Scope
from customers import review
from customers.accounts import AccountNumber
from customers.models import BankAccount, Customer
from customers.selectors import customers_in_scope
from events.services import event_record, events_record
from limits import services as limits
from payouts import holds, sql, stops
from payouts.models import Payout, PayoutApproval, PayoutEvent
from payouts.rails import Outcome
from payouts.representations import payout_to_dict
from payouts.selectors import PAYOUT_FIELDS

Status = Payout.Status

TRANSITIONS: dict[str, set[str]] = {
    Status.HELD: {Status.PENDING, Status.FAILED, Status.CANCELED},
    Status.PENDING: {Status.PROCESSING, Status.CANCELED, Status.FAILED, Status.HELD},
    Status.PROCESSING: {Status.PAID, Status.FAILED},
}


# The ends of a payout without money leaving: its amount no longer counts towards the limits (limits app)
# nor the velocity totals (payouts.holds): _give_back.
ENDS_WITHOUT_MONEY_LEAVING = frozenset({Status.FAILED, Status.CANCELED})


class IllegalTransition(Exception):
    """A transition the status machine does not allow: a programming error, never a client's."""


class PayoutNotCancelable(Conflict):
    code = "payout_not_cancelable"


class LivePayoutsDisabled(NotPermitted):
    code = "live_payouts_disabled"


class PayoutNotHeld(Conflict):
    code = "payout_not_held"


class SecondApprovalNeeded(Conflict):
    code = "second_approval_needed"


class NotPermittedToDecide(NotPermitted):
    code = "not_permitted"


@dataclass(frozen=True)
class Destination:
    """Where a payout goes: public ids (None for a one-off) and the number as stored (encrypted)."""

    customer_public_id: str | None
    bank_account_public_id: str | None
    ciphertext: str
    key_id: str
    fingerprint: str
    last4: str
    facts: holds.Facts = field(default_factory=holds.Facts)  # what the hold rules need, read with it


ACCOUNT_COLUMNS = (
    "public_id",
    "status",
    "account_number_ciphertext",
    "account_number_key_id",
    "account_number_fingerprint",
    "account_number_last4",
)


def _invalid(param: str, code: str, message: str) -> InvalidParameters:
    return InvalidParameters.single(param, code, message)


def resolve_destination(
    *,
    scope: Scope,
    customer_public_id: str | None,
    bank_account_public_id: str | None,
    destination: AccountNumber | None,
) -> Destination:
    """Where the money goes, from one of: customerId (its default account), customerId + bankAccountId,
    customerId + destinationCbu (must be one of its active accounts), or destinationCbu alone (one-off).

    Reads plain rows, not model instances: this runs on every payout."""
    if customer_public_id is None:
        if bank_account_public_id is not None:
            raise _invalid("customerId", "parameter_missing", "bankAccountId needs the customerId it belongs to.")
        if destination is None:
            raise _invalid("destinationCbu", "parameter_missing", "Send customerId, destinationCbu, or both.")
        return _one_off(scope, destination)
    if bank_account_public_id is not None:
        account = _account(scope, customer_public_id, public_id=bank_account_public_id)
        if destination is not None and crypto.fingerprint(destination.digits) != account.fingerprint:
            raise _invalid("destinationCbu", "destination_mismatch", "destinationCbu is not bankAccountId's number.")
    elif destination is not None:
        account = _account(scope, customer_public_id, fingerprint=crypto.fingerprint(destination.digits))
    else:
        account = _default_account(scope, customer_public_id)
    return account


def _one_off(scope: Scope, number: AccountNumber) -> Destination:
    fingerprint = crypto.fingerprint(number.digits)
    if stop := stops.number_stop(scope=scope, fingerprint=fingerprint):
        raise _invalid("destinationCbu", stop.code, stop.message)
    with connection.cursor() as cursor:
        cursor.execute(holds.NUMBER_FACTS, [scope.merchant_id, scope.merchant_id, scope.livemode, fingerprint])
        hold_amount, needs_review, changed_at = cursor.fetchone()
    return Destination(
        customer_public_id=None,
        bank_account_public_id=None,
        ciphertext=crypto.encrypt(number.digits),
        key_id=crypto.primary_key_id(),
        fingerprint=fingerprint,
        last4=number.last4,
        facts=holds.Facts(
            merchant_hold_amount=hold_amount, account_needs_review=needs_review, details_changed_at=changed_at
        ),
    )


def _customers(scope: Scope, customer_public_id: str):
    if not is_public_id(customer_public_id, "cust"):
        raise _invalid("customerId", "invalid_customer", f"No such customer: {customer_public_id[:64]!r}.")
    return customers_in_scope(scope=scope).filter(public_id=customer_public_id)


def _destination(customer_public_id: str, row: tuple, facts: holds.Facts) -> Destination:
    public_id, _status, ciphertext, key_id, fingerprint, last4 = row
    return Destination(customer_public_id, public_id, ciphertext, key_id, fingerprint, last4, facts)


def _default_account(scope: Scope, customer_public_id: str) -> Destination:
    row = None
    if is_public_id(customer_public_id, "cust"):
        since = holds.velocity_since(timezone.now())
        with connection.cursor() as cursor:
            # Plain SQL through a function (payouts/sql.py): with the ORM, building the query took longer than
            # PostgreSQL takes to run it, on the path of every payout.
            cursor.execute(sql.DEFAULT_DESTINATION, [customer_public_id, scope.merchant_id, scope.livemode, since])
            row = cursor.fetchone()
    if row is None:
        raise _invalid("customerId", "invalid_customer", f"No such customer: {customer_public_id[:64]!r}.")
    _refuse_if_stopped(verification=row[7])
    if row[1] is None:
        raise _invalid("customerId", "no_default_bank_account", "This customer has no default bank account; add one.")
    if row[2] != BankAccount.Status.ACTIVE or not row[3]:  # defaults always can; not a DB promise
        raise _invalid("customerId", "invalid_bank_account", "This customer's default bank account cannot be paid.")
    facts = holds.Facts(
        merchant_hold_amount=row[8],
        verification=row[7],
        account_needs_review=row[9],
        customer_needs_review=row[11],
        details_changed_at=row[10],
        recent_total=row[12],
    )
    return _destination(row[0], row[1:7], facts)


def _refuse_if_stopped(*, verification: str) -> None:
    """Compliance's rejection stops money, in test mode as in live (an integration can test its handling)."""
    if stop := stops.customer_stop(verification=verification):
        raise _invalid("customerId", stop.code, stop.message)


def _account(
    scope: Scope, customer_public_id: str, *, public_id: str | None = None, fingerprint: str | None = None
) -> Destination:
    """One of the customer's accounts that can be paid, by id or by number."""
    customer = list(_customers(scope, customer_public_id).values_list("pk", "verification_status")[:1])
    if not customer:
        raise _invalid("customerId", "invalid_customer", f"No such customer: {customer_public_id[:64]!r}.")
    customer_pk, verification = customer[0]
    _refuse_if_stopped(verification=verification)
    accounts = BankAccount.objects.filter(customer_id=customer_pk, status=BankAccount.Status.ACTIVE).exclude(
        account_number_ciphertext=""
    )
    if public_id is not None:
        rows = list(accounts.filter(public_id=public_id).values_list(*ACCOUNT_COLUMNS)[:1])
        if not rows:
            raise _invalid(
                "bankAccountId",
                "invalid_bank_account",
                "The bank account must be an active account of this customer with an account number.",
            )
    else:
        rows = list(accounts.filter(account_number_fingerprint=fingerprint).values_list(*ACCOUNT_COLUMNS)[:1])
        if not rows:
            raise _invalid(
                "destinationCbu",
                "destination_mismatch",
                "destinationCbu is not one of this customer's active accounts.",
            )
    return _destination(customer_public_id, rows[0], _account_facts(rows[0][0], verification))


def _account_facts(account_public_id: str, verification: str) -> holds.Facts:
    """The hold rules' facts for a customer's account named in the request (one more read: this path is
    not the default destination's: payouts/sql.py)."""
    since = holds.velocity_since(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(holds.ACCOUNT_FACTS, [since, account_public_id])
        hold_amount, needs_review, changed_at, customer_needs_review, recent_total = cursor.fetchone()
    return holds.Facts(
        merchant_hold_amount=hold_amount,
        verification=verification,
        account_needs_review=needs_review,
        customer_needs_review=customer_needs_review,
        details_changed_at=changed_at,
        recent_total=recent_total,
    )


SET_LAST_OUT = "UPDATE customers_customer SET last_out = %s WHERE public_id = %s"


def payout_create(
    *,
    scope: Scope,
    amount: Decimal,
    currency: str,
    customer_public_id: str | None = None,
    bank_account_public_id: str | None = None,
    destination: AccountNumber | None = None,
    description: str = "",
    metadata: dict[str, str] | None = None,
) -> Payout:
    """A pending payout, or a held one when it matches a hold rule (payouts.holds), with the codes of the
    rules it matched (its creation is its created_at; events record the transitions after it). The
    customer's last_out is set in the same transaction. Events: payout.created for every payout, and
    payout.held besides for a held one."""
    if scope.livemode and not settings.PAYOUT_LIVE_ENABLED:
        raise LivePayoutsDisabled(
            "Live payouts are not enabled on this platform yet: no bank rail is configured. Use a test key."
        )
    target = resolve_destination(
        scope=scope,
        customer_public_id=customer_public_id,
        bank_account_public_id=bank_account_public_id,
        destination=destination,
    )
    now = timezone.now()
    hold_reasons = holds.hold_reasons(target.facts, amount, now)
    payout = Payout(
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        customer_public_id=target.customer_public_id,
        bank_account_public_id=target.bank_account_public_id,
        amount=amount,
        currency=currency,
        destination_ciphertext=target.ciphertext,
        destination_key_id=target.key_id,
        destination_fingerprint=target.fingerprint,
        destination_last4=target.last4,
        description=description,
        metadata=metadata or {},
        status=Status.HELD if hold_reasons else Status.PENDING,
        hold_reasons=hold_reasons,
        updated_at=now,
    )
    flag = target.bank_account_public_id if holds.RECENT_CHANGE in hold_reasons else None
    with db.write_batch():  # one transaction, and in the API the request's one round trip of writes
        # Lock order: the customer's row and its account's, then the limits' counters, as a decision does
        # (rejecting the customer locks its row, fails its payouts, then gives their amounts back to the
        # counters): the other order deadlocked, and the decision was the one rolled back.
        if target.customer_public_id is not None:
            db.execute(SET_LAST_OUT, (now, target.customer_public_id))
        if flag:
            review.flag_changed_before_large_payout(flag)
        # Limits: before the payout's row (a day's counter starts from the payouts before this one); over a
        # limit the batch raises limits.services.LimitExceeded and writes nothing.
        limits.limits_consume(
            scope=scope, customer_public_id=target.customer_public_id, amount=amount, at=payout.created_at
        )
        db.insert(payout)
        holds.velocity_count(customer_public_id=target.customer_public_id, amount=amount, at=payout.created_at)
        shown = payout_to_dict(payout)
        event_record(scope=scope, type="payout.created", obj=shown)
        if hold_reasons:
            event_record(scope=scope, type="payout.held", obj=shown)
    return payout


def check_transition(from_status: str, to_status: str) -> None:
    """IllegalTransition unless the status machine (TRANSITIONS) allows from_status → to_status."""
    if to_status not in TRANSITIONS.get(from_status, set()):
        raise IllegalTransition(f"A payout cannot go from {from_status} to {to_status}.")


@transaction.atomic(savepoint=False)
def payout_cancel(*, payout: Payout) -> Payout:
    """The merchant's cancel: a pending or a held payout (one waiting for compliance is not theirs to lose)."""
    payout = Payout.objects.select_for_update().get(pk=payout.pk)
    if payout.status not in (Status.PENDING, Status.HELD):
        raise PayoutNotCancelable(
            f"Only a pending or held payout can be canceled; this one is {payout.status}.",
            param="payoutId",
            extra={"status": payout.status},
        )
    _move([payout], payout.status, Status.CANCELED, reason="canceled by the merchant")
    return payout


# Compliance's decisions on a held payout (the review queue: compliance.admin). Each locks the payout's
# row first, so two analysts, an analyst and the merchant's cancel, or an approval and a rejection, each
# find the other's outcome and exactly one decides.

DECIDE_PERMISSION = "payouts.decide_payout"
REJECTED_CODE = "compliance_rejected"
# What the merchant sees: the analyst's reason stays in the back-office (the payout's history and the audit
# trail): telling a payer why compliance refused a beneficiary can tip the beneficiary off.
REJECTED_MESSAGE = "This payout was rejected by compliance review."
REASON_MAX_LENGTH = 500


def _staff_name(staff) -> str:
    return f"staff:{staff.get_username()}"


def _locked_held(payout: Payout, staff) -> Payout:
    if not staff.has_perm(DECIDE_PERMISSION):
        raise NotPermittedToDecide("Deciding on held payouts needs the Compliance analyst role.")
    payout = Payout.objects.select_for_update().get(pk=payout.pk)
    if payout.status != Status.HELD:
        raise PayoutNotHeld(
            f"This payout is no longer held: it is {payout.status}.", param="payoutId", extra={"status": payout.status}
        )
    return payout


def _checked_reason(reason: str, *, required: bool) -> str:
    reason = reason.strip()
    if required and not reason:
        raise _invalid("reason", "parameter_missing", "A rejection needs a reason.")
    if len(reason) > REASON_MAX_LENGTH:
        raise _invalid("reason", "reason_too_long", f"The reason may be at most {REASON_MAX_LENGTH} characters.")
    return reason


@transaction.atomic
def payout_approve(*, payout: Payout, staff, reason: str = "") -> Payout:
    """An analyst approves a held payout: held → pending (the worker takes it), event payout.approved.
    At or above COMPLIANCE_FOUR_EYES_AMOUNT the first approval is recorded and the payout stays held; the
    second, by another analyst, releases it. Every approval is a PayoutApproval row and in the audit trail."""
    reason = _checked_reason(reason, required=False)
    payout = _locked_held(payout, staff)
    earlier = list(PayoutApproval.objects.filter(payout=payout).values_list("staff_id", flat=True))
    if staff.pk in earlier:
        raise SecondApprovalNeeded(
            "You already approved this payout: a second, different analyst must approve it.", param="payoutId"
        )
    with actor(_staff_name(staff), decision="approve", reason=reason):
        PayoutApproval.objects.create(payout=payout, staff=staff, reason=reason)
        if holds.needs_four_eyes(payout.amount) and not earlier:
            audit_event_record(payout, label="first approval", actor=_staff_name(staff), reason=reason)
            return payout
        _move(
            [payout],
            Status.HELD,
            Status.PENDING,
            reason=f"approved by {_staff_name(staff)}",
            event_type="payout.approved",
        )
    return payout


@transaction.atomic
def payout_reject(*, payout: Payout, staff, reason: str) -> Payout:
    """An analyst rejects a held payout, with a reason: held → failed (compliance_rejected), event
    payout.rejected. One analyst is enough to say no, whatever the amount."""
    reason = _checked_reason(reason, required=True)
    payout = _locked_held(payout, staff)
    payout.failure_code, payout.failure_message = REJECTED_CODE, REJECTED_MESSAGE
    with actor(_staff_name(staff), decision="reject", reason=reason):
        _move(
            [payout],
            Status.HELD,
            Status.FAILED,
            reason=f"rejected by {_staff_name(staff)}: {reason}"[: PayoutEvent._meta.get_field("reason").max_length],
            fields=FAILURE_FIELDS,
            event_type="payout.rejected",
        )
    return payout


def _move(
    payouts: list[Payout],
    from_status: str,
    to_status: str,
    *,
    reason: str,
    fields: tuple[str, ...] = (),
    event_type: str | None = None,
    give_back: bool = True,
) -> None:
    """Change locked payouts' status and record the events (payout.<to_status>, unless event_type says
    otherwise). The caller has locked them and checked that each is in from_status. give_back=False: the
    caller gives the amounts of failed or canceled payouts back itself, with others (_give_back)."""
    check_transition(from_status, to_status)
    now = timezone.now()
    for payout in payouts:
        if payout.status != from_status:
            raise IllegalTransition(f"{payout.public_id} is {payout.status}, not {from_status}.")
        payout.status = to_status
        payout.updated_at = now
    # One UPDATE per distinct set of new values (a batch mostly shares them), not bulk_update's CASE per row.
    groups: dict[tuple, list[int]] = {}
    for payout in payouts:
        groups.setdefault(tuple(getattr(payout, name) for name in fields), []).append(payout.pk)
    for values, pks in groups.items():
        changes = {"status": to_status, "updated_at": now, **dict(zip(fields, values, strict=True))}
        Payout.objects.filter(pk__in=pks, status=from_status).update(**changes)
    if to_status in ENDS_WITHOUT_MONEY_LEAVING and give_back:  # ended without money leaving: its amount counts no more
        _give_back(payouts)
    PayoutEvent.objects.bulk_create(
        [
            PayoutEvent(payout=p, from_status=from_status, to_status=to_status, reason=reason, created_at=now)
            for p in payouts
        ]
    )
    _record_events(payouts, from_status, event_type or f"payout.{to_status}")


def _give_back(payouts: list[Payout]) -> None:
    """The amounts of payouts that ended without money leaving, given back to the limits' counters, then to
    the velocity totals: each one statement locking its rows in one order. A transaction that ends payouts
    in several groups gives back once for all of them: per group, two such transactions could lock the same
    counters in opposite orders (two workers' claims: a deadlock, one claim failed)."""
    limits.limits_release(payouts=payouts)
    holds.velocity_release(payouts=payouts)


def _record_events(payouts: list[Payout], from_status: str, event_type: str) -> None:
    """An event of this type for each payout, in the transition's transaction, one batch per merchant and mode."""
    by_scope: dict[Scope, list[Payout]] = {}
    for payout in payouts:
        by_scope.setdefault(Scope(merchant_id=payout.merchant_id, livemode=payout.livemode), []).append(payout)
    for scope, group in by_scope.items():
        events_record(scope=scope, type=event_type, changes=[_change(p, from_status) for p in group])


def _change(payout: Payout, from_status: str) -> tuple[dict, dict]:
    shown = payout_to_dict(payout)
    previous = {"status": from_status}
    if payout.status == Status.HELD and from_status == Status.PENDING:  # held at the claim
        previous["holdReasons"] = []
    if payout.failure_code:  # a payout fails once, from no failure
        previous |= {"failureCode": None, "failureMessage": None}
    return shown, previous


# The worker's transitions, in batches: one statement locks a batch, skipping rows another worker holds.

WORKER_FIELDS = (
    "pk",
    *PAYOUT_FIELDS,  # the events of a transition show the payout as the API does
    "merchant_id",
    "destination_ciphertext",
    "processing_started_at",
)
FAILURE_FIELDS = ("failure_code", "failure_message")


@dataclass(frozen=True)
class Claim:
    payouts: list[Payout]  # moved to processing: to be sent
    stopped: int  # failed instead, a decision having stopped them (payouts.stops)
    held: int = 0  # held instead, flagged for review since their creation (payouts.holds.held_at_claim)


@transaction.atomic
def payouts_claim(*, limit: int, livemode: bool = False) -> Claim:
    """Move up to `limit` pending payouts of one mode to processing, oldest first.

    FOR UPDATE SKIP LOCKED: any number of workers on any number of machines each get different payouts.
    In the same transaction the decisions that stop money are read again (payouts.stops): a stopped payout
    fails with its code instead of going to the rail. One mode at a time, read off the queue index
    (status, livemode, id): live payouts waiting for a bank rail are never scanned by test mode's claims.
    """
    batch = list(
        Payout.objects.select_for_update(skip_locked=True)
        .filter(status=Status.PENDING, livemode=livemode)
        .order_by("id")
        .only(*WORKER_FIELDS)[:limit]
    )
    stopped = stops.stopped_payouts([payout.pk for payout in batch])
    _fail(batch, stopped)
    unstopped = [payout for payout in batch if payout.pk not in stopped]
    flagged = holds.held_at_claim([payout.pk for payout in unstopped])
    _hold(unstopped, flagged)
    claimed = [payout for payout in unstopped if payout.pk not in flagged]
    now = timezone.now()
    for payout in claimed:
        payout.processing_started_at = now
    _move(claimed, Status.PENDING, Status.PROCESSING, reason="claimed by a worker", fields=("processing_started_at",))
    return Claim(payouts=claimed, stopped=len(stopped), held=len(flagged))


def _hold(payouts: list[Payout], flagged: dict[int, list[str]]) -> None:
    """Pending → held for the locked payouts a flag raised since their creation holds, with its reasons."""
    for reasons in {tuple(codes) for codes in flagged.values()}:
        group = [payout for payout in payouts if tuple(flagged.get(payout.pk, ())) == reasons]
        for payout in group:
            payout.hold_reasons = list(reasons)
        Payout.objects.filter(pk__in=[p.pk for p in group], status=Status.PENDING).update(hold_reasons=list(reasons))
        _move(group, Status.PENDING, Status.HELD, reason=f"held at the claim: {', '.join(reasons)}")


def _fail(payouts: list[Payout], stopped: dict[int, stops.Stop]) -> None:
    """Pending or held → failed for the locked payouts a decision stopped, each with its code and an event;
    their amounts given back once, for all of them (_give_back)."""
    failed = []
    for stop in set(stopped.values()):
        for from_status in (Status.PENDING, Status.HELD):
            group = [p for p in payouts if stopped.get(p.pk) == stop and p.status == from_status]
            for payout in group:
                payout.failure_code, payout.failure_message = stop.code, stop.message
            if group:
                reason = f"stopped: {stop.code}"
                _move(group, from_status, Status.FAILED, reason=reason, fields=FAILURE_FIELDS, give_back=False)
                failed += group
    if failed:
        _give_back(failed)


@transaction.atomic
def payouts_fail_stopped(*, scope: Scope, fingerprints: list[str]) -> int:
    """After a decision (a customer rejected, an account disabled): fail the pending and held payouts it
    stops, now, in the decision's transaction. Candidates are the pending and held payouts of the merchant
    and mode to these numbers (a saved customer's payouts and one-offs alike; index payout_destination);
    payouts.stops decides which are stopped, and only those are locked (waiting for a claim in progress, or
    an analyst's decision), then failed if still pending or held: a payout a worker claimed meanwhile was
    already with the rail."""
    if not fingerprints:
        return 0
    waiting = (Status.PENDING, Status.HELD)
    candidates = Payout.objects.filter(
        status__in=waiting,
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        destination_fingerprint__in=fingerprints,
    ).values_list("pk", flat=True)
    stopped = stops.stopped_payouts(list(candidates))
    locked = list(
        Payout.objects.select_for_update()
        .filter(pk__in=stopped, status__in=waiting)
        .order_by("id")
        .only(*WORKER_FIELDS, *FAILURE_FIELDS)
    )
    _fail(locked, stopped)
    return len(locked)


@transaction.atomic
def payouts_claim_stale(*, older_than: timedelta, limit: int, livemode: bool = False) -> list[Payout]:
    """Processing payouts whose worker went quiet (died mid-send); their clock restarts for this worker.
    They were handed to the rail already: a later decision does not stop them (payouts.stops)."""
    cutoff: datetime = timezone.now() - older_than
    batch = list(
        Payout.objects.select_for_update(skip_locked=True)
        .filter(status=Status.PROCESSING, livemode=livemode, processing_started_at__lt=cutoff)
        .order_by("id")
        .only(*WORKER_FIELDS)[:limit]
    )
    if batch:
        Payout.objects.filter(pk__in=[p.pk for p in batch]).update(processing_started_at=timezone.now())
    return batch


@transaction.atomic
def payouts_settle(*, outcomes: dict[int, Outcome]) -> int:
    """Record the rail's outcomes: processing → paid or failed. Payouts no longer processing are left
    alone (another worker settled them) and not counted. Returns how many were settled."""
    locked = list(
        Payout.objects.select_for_update()
        .filter(pk__in=outcomes, status=Status.PROCESSING)
        .order_by("id")
        .only(*WORKER_FIELDS, *FAILURE_FIELDS)
    )
    for to_status in (Status.PAID, Status.FAILED):
        group = [p for p in locked if outcomes[p.pk].status == to_status]
        for payout in group:
            payout.failure_code = outcomes[payout.pk].failure_code
            payout.failure_message = outcomes[payout.pk].failure_message
        if group:
            _move(
                group,
                Status.PROCESSING,
                to_status,
                reason="settled by the rail",
                fields=FAILURE_FIELDS,
            )
    return len(locked)


def payouts_stop_for_customer(sender, *, customer: Customer, **kwargs) -> None:
    """customers.signals.customer_rejected: its pending payouts, and one-offs to its numbers, fail now."""
    fingerprints = list(
        BankAccount.objects.filter(customer_id=customer.pk)
        .exclude(account_number_fingerprint="")
        .values_list("account_number_fingerprint", flat=True)
    )
    payouts_fail_stopped(scope=customer.scope, fingerprints=fingerprints)


def payouts_stop_for_account(sender, *, account: BankAccount, **kwargs) -> None:
    """customers.signals.bank_account_disabled: its pending payouts, and one-offs to its number if no
    active account has it any more, fail now."""
    if account.account_number_fingerprint:
        scope = Scope(merchant_id=account.merchant_id, livemode=account.livemode)
        payouts_fail_stopped(scope=scope, fingerprints=[account.account_number_fingerprint])


def payout_destinations_rotate_batch(*, after_pk: int, batch_size: int) -> tuple[int, int]:
    """Re-encrypt up to batch_size payout destinations after after_pk not yet under the primary key;
    returns (how many, the last pk looked at: the next batch's after_pk, 0 when done).

    Walks the table once by pk (each batch its own transaction, skipping rows another rotator holds), so a
    rotation over millions of payouts does not rescan the rows it already did."""
    primary = crypto.primary_key_id()
    with transaction.atomic():
        payouts = list(
            Payout.objects.select_for_update(skip_locked=True)
            .filter(pk__gt=after_pk)
            .order_by("pk")
            .only("pk", "destination_ciphertext", "destination_key_id")[:batch_size]
        )
        stale = [payout for payout in payouts if payout.destination_key_id != primary]
        for payout in stale:
            payout.destination_ciphertext = crypto.rotate(payout.destination_ciphertext)
            payout.destination_key_id = primary
        Payout.objects.bulk_update(stale, ["destination_ciphertext", "destination_key_id"])
    return len(stale), payouts[-1].pk if payouts else 0
