"""Start-up check: the configured keys can decrypt the account numbers already stored.

A wrong or dropped key must stop the service before it serves a request, never show ciphertext as
data or fail on the first payout. Runs with `manage.py check`, runserver, migrate, and in wsgi.py.
"""

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from core import crypto


@checks.register("encryption")
def check_account_number_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from customers.models import BankAccount

    configured = {crypto.key_id(key) for key in settings.FIELD_ENCRYPTION_KEYS}
    stored = BankAccount.objects.exclude(account_number_ciphertext="")
    try:
        orphan = stored.exclude(account_number_key_id__in=configured).values_list("public_id", flat=True).first()
        newest = stored.order_by("-pk").values_list("account_number_ciphertext", flat=True).first()
    except DatabaseError:
        return []  # not migrated yet: nothing stored to check
    errors = []
    if orphan is not None:
        errors.append(
            checks.Error(
                f"Account numbers are stored under a key that is not in FIELD_ENCRYPTION_KEYS (e.g. {orphan}).",
                hint="Put the old key back (after the new one) and run `manage.py rotate_encryption_key`.",
                id="customers.E001",
            )
        )
    if newest is not None:
        try:
            crypto.decrypt(newest)
        except crypto.DecryptionError:
            errors.append(
                checks.Error(
                    "The newest stored account number cannot be decrypted with FIELD_ENCRYPTION_KEYS.",
                    hint="The keys do not match the data: check FIELD_ENCRYPTION_KEYS.",
                    id="customers.E002",
                )
            )
    return errors
