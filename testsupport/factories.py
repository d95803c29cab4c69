"""Factories that build real rows through the project's own services (so every rule applies), with
defaults a test can override field by field. Numbers come from customers.tests.factories' CBU builders."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from core import crypto
from core.scope import Scope
from customers.accounts import parse_account_number
from customers.models import BankAccount, Customer
from customers.services import bank_account_add, customer_create
from customers.tests.factories import make_cbu
from payouts.models import Payout


def make_customer(scope: Scope, **fields: Any) -> Customer:
    """A customer of the scope's merchant and mode (individual, "Ana", AR unless told otherwise)."""
    return customer_create(scope=scope, **{"type": "individual", "name": "Ana", "country": "AR", **fields})


def make_bank_account(scope: Scope, customer: Customer, number: str | None = None, **fields: Any) -> BankAccount:
    """An account of the customer with a valid CBU (the first one becomes its default)."""
    values = {"account_type": "savings", "holder_name": customer.name, **fields}
    return bank_account_add(
        scope=scope,
        customer_id=customer.public_id,
        account_number=parse_account_number(number or make_cbu()),
        **values,
    )


def make_pending_payouts(scope: Scope, count: int, *, number: str | None = None, amount: str = "10.00") -> None:
    """`count` pending one-off payouts to one number, written in one statement (for queue and worker
    tests that need many; the API's own creation is tested through the API)."""
    number = number or make_cbu()
    ciphertext = crypto.encrypt(number)
    Payout.objects.bulk_create(
        Payout(
            merchant_id=scope.merchant_id,
            livemode=scope.livemode,
            amount=Decimal(amount),
            destination_ciphertext=ciphertext,
            destination_key_id=crypto.primary_key_id(),
            destination_fingerprint=crypto.fingerprint(number),
            destination_last4=number[-4:],
        )
        for _ in range(count)
    )


def backdate_flag(account: BankAccount, flagged_at: datetime) -> None:
    """Make a flagged account look flagged at `flagged_at`. The database owns flagged_at (a trigger undoes
    any other write of it: customers.review.FLAGGED_AT_INSTALL), so the update runs as a replica's would,
    with the table's triggers off (the audit trail's too: it records nothing), in the test's transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE customers_bankaccount SET flagged_at = %s WHERE id = %s AND needs_review", [flagged_at, account.pk]
        )
        assert cursor.rowcount == 1, "only a flagged account has a flagged_at"
        cursor.execute("SET LOCAL session_replication_role = origin")
