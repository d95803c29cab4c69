"""Start-up check: the configured keys can decrypt the account numbers already stored.

A wrong or dropped key must stop the service before it serves a request, never show ciphertext as
data or fail on the first payout. Runs with `manage.py check`, runserver, migrate, and in wsgi.py.
"""

import random

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from core import crypto

# Rows read at each start, three times: the newest, the oldest and a run from a random place.
SAMPLE = 100


@checks.register("encryption")
def check_account_number_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Samples the stored numbers instead of reading them all (every worker start runs this): the newest,
    the oldest and a run from a random place, each an index range read of SAMPLE rows. A key dropped too
    early shows first at the old end (a rotation re-encrypts oldest first); `rotate_encryption_key` is what
    makes sure of every row."""
    from customers.models import BankAccount

    configured = {crypto.key_id(key) for key in settings.FIELD_ENCRYPTION_KEYS}
    stored = BankAccount.objects.exclude(account_number_ciphertext="").values_list(
        "pk", "public_id", "account_number_key_id", "account_number_ciphertext"
    )
    try:
        newest = list(stored.order_by("-pk")[:SAMPLE])
        oldest = list(stored.order_by("pk")[:SAMPLE])
        middle = []
        if newest and oldest and oldest[-1][0] < newest[-1][0]:
            start = random.randint(oldest[-1][0], newest[-1][0])  # noqa: S311 - a sample, not a secret
            middle = list(stored.filter(pk__gte=start).order_by("pk")[:SAMPLE])
    except DatabaseError:
        return []  # not migrated yet: nothing stored to check
    orphan = next((row[1] for row in newest + oldest + middle if row[2] not in configured), None)
    errors = []
    if orphan is not None:
        errors.append(
            checks.Error(
                f"Account numbers are stored under a key that is not in FIELD_ENCRYPTION_KEYS (e.g. {orphan}).",
                hint="Put the old key back (after the new one) and run `manage.py rotate_encryption_key`.",
                id="customers.E001",
            )
        )
    if newest:
        try:
            crypto.decrypt(newest[0][3])
        except crypto.DecryptionError:
            errors.append(
                checks.Error(
                    "The newest stored account number cannot be decrypted with FIELD_ENCRYPTION_KEYS.",
                    hint="The keys do not match the data: check FIELD_ENCRYPTION_KEYS.",
                    id="customers.E002",
                )
            )
    return errors
