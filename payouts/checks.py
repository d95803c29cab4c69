"""Checks for the money-out loop: at start-up (the keys can read what is to be sent) and for deployment."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from core import crypto
from payouts.rails import live_rail_configured


@register(Tags.security, deploy=True)
def live_payouts_need_a_rail(app_configs, **kwargs) -> list[Warning]:
    if settings.PAYOUT_LIVE_ENABLED and not live_rail_configured():
        return [
            Warning(
                "PAYOUT_LIVE_ENABLED is on but no live bank rail is configured (PAYOUT_LIVE_RAIL): live payouts "
                "are accepted and stay pending; none is sent or reported paid until a rail is configured.",
                hint="Turn PAYOUT_LIVE_ENABLED off until a bank rail is configured.",
                id="payouts.W001",
            )
        ]
    return []


@register("encryption")
def unsent_payouts_can_be_decrypted(app_configs=None, **kwargs) -> list[Error]:
    """Payouts still to be sent (pending, processing) must be readable with the configured keys, or the
    worker could not send them (it leaves them in processing and logs each). Reads the queue's index only."""
    from payouts.models import Payout

    configured = {crypto.key_id(key) for key in settings.FIELD_ENCRYPTION_KEYS}
    unsent = Payout.objects.filter(status__in=[Payout.Status.PENDING, Payout.Status.PROCESSING])
    try:
        orphan = unsent.exclude(destination_key_id__in=configured).values_list("public_id", flat=True).first()
    except DatabaseError:
        return []  # not migrated yet: nothing stored to check
    if orphan is None:
        return []
    return [
        Error(
            f"Payouts still to be sent are encrypted under a key that is not in FIELD_ENCRYPTION_KEYS (e.g. {orphan}).",
            hint="Put the old key back (after the new one) and run `manage.py rotate_encryption_key`.",
            id="payouts.E001",
        )
    ]
