"""Deployment checks for the money-out loop."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

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
