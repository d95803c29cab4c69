"""Reading limits: what GET /limits shows a merchant, and the back-office's pending changes."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from core.rendering import iso_utc
from core.scope import Scope
from limits.models import CURRENCY, PayoutLimit, PayoutLimitChange, PayoutLimitUsage
from limits.services import day_end, limits_day
from limits.sql import TIME_ZONE


def limits_get(*, scope: Scope) -> PayoutLimit | None:
    return PayoutLimit.objects.filter(merchant_id=scope.merchant_id, livemode=scope.livemode).first()


def limits_used(*, scope: Scope, day: date, customer_public_id: str = "") -> Decimal:
    """What the merchant (or one of its customers) has paid out on `day`, counting as the limits do: the
    day's counter when there is one, otherwise the day's payouts not failed or canceled."""
    counter = (
        PayoutLimitUsage.objects.filter(
            merchant_id=scope.merchant_id, livemode=scope.livemode, day=day, customer_public_id=customer_public_id
        )
        .values_list("used", flat=True)
        .first()
    )
    if counter is not None:
        return counter
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT limits_day_sum(%s, %s, %s, %s)", [scope.merchant_id, scope.livemode, customer_public_id, day]
        )
        return cursor.fetchone()[0]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _usage(limit: Decimal | None, used: Decimal | None) -> dict[str, str | None]:
    remaining = None if limit is None or used is None else max(limit - used, Decimal("0"))
    return {"amount": _money(limit), "used": _money(used), "remaining": _money(remaining)}


def limits_overview(*, scope: Scope, customer_public_id: str | None = None) -> dict[str, Any]:
    """GET /limits: the limits of the key's mode, today's usage and what remains (per customer: one
    customer's, when asked for)."""
    limits = limits_get(scope=scope)
    single, daily, per_customer = (
        (limits.single_max, limits.daily_max, limits.customer_daily_max) if limits else (None, None, None)
    )
    today = limits_day(timezone.now())
    customer_used = None
    if customer_public_id is not None:
        customer_used = limits_used(scope=scope, day=today, customer_public_id=customer_public_id)
    return {
        "object": "limits",
        "livemode": scope.livemode,
        "currency": CURRENCY,
        "day": today.isoformat(),
        "timeZone": TIME_ZONE,
        "resetsAt": iso_utc(day_end(today)),
        "single": {"amount": _money(single)},
        "daily": _usage(daily, limits_used(scope=scope, day=today)),
        "customerDaily": {"customerId": customer_public_id, **_usage(per_customer, customer_used)},
    }


def limit_changes_pending() -> QuerySet[PayoutLimitChange]:
    return PayoutLimitChange.objects.filter(status=PayoutLimitChange.Status.PENDING).order_by("proposed_at")
