"""Compliance actions that are not a change of a beneficiary (verification lives with the customer services)."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from audit.tracking import REVEAL
from compliance.models import Assignment
from customers.models import BankAccount

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


@transaction.atomic
def assignment_take(*, kind: str, object_id: int, staff) -> Assignment:
    """An analyst takes a review-queue item ("assigned to me"), visible to everyone. Taking one that someone
    else has moves it to this analyst (the queue showed whose it was); the audit trail needs no entry: the
    decision itself names its analyst."""
    if not staff.has_perm(TAKE_PERMISSION):
        raise PermissionDenied("Taking review items needs the Compliance analyst role.")
    assignment, _ = Assignment.objects.update_or_create(
        kind=kind, object_id=object_id, defaults={"assignee": staff, "assigned_at": timezone.now()}
    )
    return assignment


def assignment_release(*, kind: str, object_id: int) -> None:
    """A decided item leaves the queue, and its assignment with it."""
    Assignment.objects.filter(kind=kind, object_id=object_id).delete()
