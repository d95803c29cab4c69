"""Compliance actions that are not a change of a beneficiary (verification lives with the customer services)."""

from django.core.exceptions import PermissionDenied

from audit.services import audit_event_record
from audit.tracking import REVEAL
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
