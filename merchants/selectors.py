import re

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotAuthenticated
from merchants.models import ApiKey, Merchant
from merchants.services import hash_secret

SECRET_KEY_RE = re.compile(r"sk_(test|live)_[A-Za-z0-9]{32,128}")


def api_key_authenticate(*, secret: str) -> ApiKey:
    """The active key for this secret, or NotAuthenticated with a stable code."""
    if not SECRET_KEY_RE.fullmatch(secret):
        raise NotAuthenticated("Malformed API key: expected sk_test_… or sk_live_….", code="api_key_invalid")
    api_key = _api_key_by_hash(hash_secret(secret))
    if api_key is None:
        raise NotAuthenticated("Invalid API key.", code="api_key_invalid")
    if api_key.revoked_at is not None:
        raise NotAuthenticated("This API key has been revoked.", code="api_key_revoked")
    if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
        raise NotAuthenticated("This API key has expired.", code="api_key_expired")
    return api_key


# Every column a request reads (the scope, the audit actor, last use): a deferred one would cost a query.
_KEY_BY_HASH_SQL = """
SELECT id, public_id, prefix, merchant_id, livemode, expires_at, revoked_at, last_used_at
  FROM merchants_apikey WHERE key_hash = %s
"""


def _api_key_by_hash(key_hash: str) -> ApiKey | None:
    # Runs on every API request: plain SQL on the unique index costs half of what the ORM's query
    # building does (bench/). raw() still applies the database's field converters.
    return next(iter(ApiKey.objects.raw(_KEY_BY_HASH_SQL, [key_hash])), None)


def api_key_get(*, public_id: str) -> ApiKey | None:
    return ApiKey.objects.select_related("merchant").filter(public_id=public_id).first()


def merchant_get(*, public_id: str) -> Merchant | None:
    return Merchant.objects.filter(public_id=public_id).first()


def api_keys_for_merchant(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return merchant.api_keys.order_by("-created_at", "-id")
