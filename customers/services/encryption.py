"""Key rotation: re-encrypting stored account numbers under the primary key (rotate_encryption_key)."""

from django.db import transaction

from core import crypto
from customers.models import BankAccount


def bank_account_numbers_rotate_batch(*, batch_size: int) -> int:
    """Re-encrypt up to batch_size account numbers not yet under the primary key; returns how many.

    Each batch is its own transaction and skips rows another rotator holds, so the rotation can be
    stopped, resumed, or run from several processes at once.
    """
    primary = crypto.primary_key_id()
    with transaction.atomic():
        accounts = list(
            BankAccount.objects.select_for_update(skip_locked=True)
            .exclude(account_number_ciphertext="")
            .exclude(account_number_key_id=primary)
            .order_by("pk")
            .only("pk", "account_number_ciphertext", "account_number_key_id")[:batch_size]
        )
        for account in accounts:
            account.account_number_ciphertext = crypto.rotate(account.account_number_ciphertext)
            account.account_number_key_id = primary
        BankAccount.objects.bulk_update(accounts, ["account_number_ciphertext", "account_number_key_id"])
    return len(accounts)
