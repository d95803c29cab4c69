import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.ids import random_string
from merchants.models import ApiKey, Merchant

KEY_RANDOM_LENGTH = 40
DISPLAY_PREFIX_RANDOM_CHARS = 4


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret(livemode: bool) -> str:
    mode = "live" if livemode else "test"
    return f"sk_{mode}_" + random_string(KEY_RANDOM_LENGTH)


def api_key_issue(*, merchant: Merchant, livemode: bool) -> IssuedKey:
    secret = _new_secret(livemode)
    display = secret[: len("sk_test_") + DISPLAY_PREFIX_RANDOM_CHARS]
    api_key = ApiKey.objects.create(merchant=merchant, livemode=livemode, key_hash=hash_secret(secret), prefix=display)
    return IssuedKey(api_key=api_key, secret=secret)


@transaction.atomic
def merchant_create(*, name: str) -> tuple[Merchant, IssuedKey, IssuedKey]:
    """A merchant with one test and one live key; returns the keys' secrets, shown only now."""
    merchant = Merchant.objects.create(name=name)
    return merchant, api_key_issue(merchant=merchant, livemode=False), api_key_issue(merchant=merchant, livemode=True)


@transaction.atomic
def api_key_roll(*, api_key: ApiKey, old_key_valid_for: timedelta) -> IssuedKey:
    """A new key for the same merchant and mode; the old one keeps working for old_key_valid_for."""
    old = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not old.is_active():
        raise ValueError(f"{old.public_id} is revoked or expired; it cannot be rolled.")
    issued = api_key_issue(merchant=old.merchant, livemode=old.livemode)
    expires_at = timezone.now() + max(old_key_valid_for, timedelta(0))
    if old.expires_at is None or expires_at < old.expires_at:
        old.expires_at = expires_at
    old.rolled_to = issued.api_key
    old.save(update_fields=["expires_at", "rolled_to"])
    return issued


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


LAST_USED_PRECISION = timedelta(minutes=1)


def api_key_mark_used(*, api_key: ApiKey) -> None:
    """Records that the key was just used, at most once a minute: a write on every request would cost
    every request a round trip. The condition keeps parallel requests from writing it twice."""
    now = timezone.now()
    stale = now - LAST_USED_PRECISION
    if api_key.last_used_at is not None and api_key.last_used_at > stale:
        return
    ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=api_key.pk).update(
        last_used_at=now
    )
    api_key.last_used_at = now
