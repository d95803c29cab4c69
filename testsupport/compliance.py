"""Back-office people and the hold rules' settings for tests: one definition each."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from compliance.roles import sync_roles

FAR_ABOVE = "900000000.00"  # a threshold no test amount reaches
HOLD_THRESHOLDS = (
    "COMPLIANCE_HOLD_AMOUNT",
    "COMPLIANCE_UNVERIFIED_HOLD_AMOUNT",
    "COMPLIANCE_LARGE_PAYOUT_AMOUNT",
    "COMPLIANCE_VELOCITY_AMOUNT",
    "COMPLIANCE_FOUR_EYES_AMOUNT",
)


def quiet_hold_rules(settings, **thresholds: str) -> None:
    """Every hold rule out of the way (its threshold FAR_ABOVE) but those given, by setting name."""
    unknown = set(thresholds) - set(HOLD_THRESHOLDS)
    assert not unknown, f"not a hold threshold: {unknown}"
    for name in HOLD_THRESHOLDS:
        setattr(settings, name, thresholds.get(name, FAR_ABOVE))


def staff_member(username: str, role: str | None = None) -> Any:
    """A staff user in a compliance role (compliance.roles, synced first: a transactional test's flush
    empties the groups), fetched again: permissions are cached per instance."""
    sync_roles(Group, Permission)
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", "pw-long-enough-123", is_staff=True
    )
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return get_user_model().objects.get(pk=user.pk)
