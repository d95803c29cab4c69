import re
from collections.abc import Callable
from functools import cache
from typing import Any

from django.db import connection
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
_KEY_COLUMNS = ("id", "public_id", "prefix", "merchant_id", "livemode", "expires_at", "revoked_at", "last_used_at")


@cache
def _key_by_hash_statement() -> tuple[str, tuple[str, ...], list[tuple[int, Callable, Any]]]:
    """The key lookup's SQL, its columns in the model's field order (as Model.from_db takes them), and
    their database converters (what raw() would apply; none for these columns on PostgreSQL today)."""
    fields = [field for field in ApiKey._meta.concrete_fields if field.attname in _KEY_COLUMNS]
    converters = []
    for index, field in enumerate(fields):
        col = field.get_col(ApiKey._meta.db_table)
        converters += [
            (index, convert, col)
            for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        ]
    columns = ", ".join(field.column for field in fields)
    statement = f"SELECT {columns} FROM merchants_apikey WHERE key_hash = %s"  # noqa: S608 - model's columns
    return statement, tuple(field.attname for field in fields), converters


def _api_key_by_hash(key_hash: str) -> ApiKey | None:
    # Runs on every API request, and is never cached (a revoked key stops at once): plain SQL on the unique
    # index, built once, and the row made an ApiKey as the ORM does (Model.from_db) without raw()'s
    # per-query set-up, which cost as much again as the round trip's own Python (bench/).
    statement, attnames, converters = _key_by_hash_statement()
    with connection.cursor() as cursor:
        cursor.execute(statement, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    if converters:
        row = list(row)
        for index, convert, expression in converters:
            row[index] = convert(row[index], expression, connection)
    return ApiKey.from_db(connection.alias, attnames, row)


def api_key_get(*, public_id: str) -> ApiKey | None:
    return ApiKey.objects.select_related("merchant").filter(public_id=public_id).first()


def merchant_get(*, public_id: str) -> Merchant | None:
    return Merchant.objects.filter(public_id=public_id).first()


def api_keys_for_merchant(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return merchant.api_keys.order_by("-created_at", "-id")
