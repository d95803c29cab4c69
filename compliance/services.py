"""Compliance actions that are not a change of a beneficiary (verification lives with the customer services)."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from audit.tracking import REVEAL
from compliance.models import Assignment
from core.errors import Conflict
from customers.models import BankAccount
from payouts.models import Payout

REVEAL_PERMISSION = "customers.reveal_account_number"


def bank_account_reveal(*, account: BankAccount, staff) -> str | None:
    """The account's full number, for staff allowed to see it. The reveal is in the audit trail before the
    number leaves this function; None when the account was stored without a number."""
    if not staff.has_perm(REVEAL_PERMISSION):
        raise PermissionDenied("Revealing an account number needs the Compliance admin role.")
    if not account.account_number_ciphertext:
        return None
    number = account.account_number()
    audit_event_record(account, label=REVEAL, actor=f"staff:{staff.get_username()}")
    return number


TAKE_PERMISSION = "compliance.add_assignment"


class ItemNotWaiting(Conflict):
    code = "review_item_not_waiting"


# What keeps an item in the queue (compliance.queue), by kind.
WAITING = {
    Assignment.Kind.PAYOUT: (Payout, {"status": Payout.Status.HELD}),
    Assignment.Kind.BANK_ACCOUNT: (BankAccount, {"needs_review": True}),
}


@transaction.atomic
def assignment_take(*, kind: str, object_id: int, staff) -> Assignment:
    """An analyst takes a review-queue item ("assigned to me"), visible to everyone. Taking one that someone
    else has moves it to this analyst (the queue showed whose it was); the audit trail needs no entry: the
    decision itself names its analyst.

    The item's row is locked (FOR NO KEY UPDATE) while it is checked to be still waiting, so a take and a
    decision (which locks it FOR UPDATE, then releases the assignment) follow each other: a take after the
    decision finds the item decided (ItemNotWaiting) instead of leaving an assignment on it, a decision
    after a take releases it. Two analysts taking the item at once queue on the same lock; the later one has
    it. One upsert writes the assignment: no unique violation to recover from."""
    if not staff.has_perm(TAKE_PERMISSION):
        raise PermissionDenied("Taking review items needs the Compliance analyst role.")
    model, waiting = WAITING[Assignment.Kind(kind)]
    if not list(model.objects.select_for_update(no_key=True).filter(pk=object_id, **waiting).values_list("pk")):
        raise ItemNotWaiting("This item is no longer waiting for review: it was decided.")
    (assignment,) = Assignment.objects.bulk_create(
        [Assignment(kind=kind, object_id=object_id, assignee=staff, assigned_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["kind", "object_id"],
        update_fields=["assignee", "assigned_at"],
    )
    return assignment


def assignment_release(*, kind: str, object_id: int) -> None:
    """A decided item leaves the queue, and its assignment with it."""
    Assignment.objects.filter(kind=kind, object_id=object_id).delete()
