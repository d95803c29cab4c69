"""Re-encrypt every stored account number (bank accounts, and payouts' destinations) with the first key
of FIELD_ENCRYPTION_KEYS.

    FIELD_ENCRYPTION_KEYS=<new>,<old> python manage.py rotate_encryption_key --batch-size 500

Resumable: each batch commits on its own, and only numbers not yet under the new key are touched,
so it can be stopped and run again (or run from several machines). When it reports 0 left, the old
key can be removed from FIELD_ENCRYPTION_KEYS.
"""

from django.core.management.base import BaseCommand, CommandError

from audit.context import command_actor
from core import crypto
from customers.models import BankAccount
from customers.services import bank_account_numbers_rotate_batch
from payouts.models import Payout
from payouts.services import payout_destinations_rotate_batch


class Command(BaseCommand):
    help = "Re-encrypt stored account numbers with the primary (first) FIELD_ENCRYPTION_KEYS key, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    @command_actor
    def handle(self, *args, batch_size: int, **options):
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000.")
        total = 0
        try:
            while done := bank_account_numbers_rotate_batch(batch_size=batch_size):
                total += done
                self.stdout.write(f"re-encrypted {total}")
            after_pk = 0
            while True:
                done, after_pk = payout_destinations_rotate_batch(after_pk=after_pk, batch_size=batch_size)
                total += done
                if done:
                    self.stdout.write(f"re-encrypted {total}")
                if not after_pk:
                    break
        except crypto.DecryptionError as exc:
            raise CommandError(f"{exc} Stopped after {total}; rerun once the old key is configured.") from None
        primary = crypto.primary_key_id()
        left = BankAccount.objects.exclude(account_number_ciphertext="").exclude(account_number_key_id=primary)
        left_payouts = Payout.objects.exclude(destination_key_id=primary)
        self.stdout.write(f"done: {total} re-encrypted, {left.count() + left_payouts.count()} left under other keys")
