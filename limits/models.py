"""A merchant's payout limits per mode, the changes to them waiting for a second compliance admin, and the
day's usage counters the database consumes atomically (limits/sql.py).

Amounts are ARS (the only currency payouts take), with the payouts' precision. A limit that is null is no
limit."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit.tracking import tracked
from merchants.models import Merchant

AMOUNT_DIGITS = 14  # as payouts.models: up to 999,999,999,999.99
AMOUNT_PLACES = 2
CURRENCY = "ARS"

# The three limits, by the stable names the API uses (error.limit.type, GET /limits).
SINGLE, DAILY, CUSTOMER_DAILY = "single", "daily", "customer_daily"
FIELDS = {SINGLE: "single_max", DAILY: "daily_max", CUSTOMER_DAILY: "customer_daily_max"}
NAMES = {field: name for name, field in FIELDS.items()}
NAMES_SHOWN = {"single_max": "single payout", "daily_max": "per day", "customer_daily_max": "per customer per day"}


def amount_field(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(
        verbose_name, max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, null=True, blank=True
    )


@tracked("PayoutLimitHistory")
class PayoutLimit(models.Model):
    """The limits in force for one merchant and mode. Written only by limits.services."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField()
    single_max = amount_field("maximum single payout (ARS)")
    daily_max = amount_field("maximum total per day (ARS)")
    customer_daily_max = amount_field("maximum per customer per day (ARS)")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "livemode"], name="payout_limit_scope_unique"),
            *[
                models.CheckConstraint(condition=models.Q(**{f"{name}__gt": 0}), name=f"payout_limit_{name}_positive")
                for name in FIELDS.values()
            ],
        ]

    def __str__(self) -> str:
        return f"limits of merchant {self.merchant_id} ({'live' if self.livemode else 'test'})"


@tracked("PayoutLimitChangeHistory")
class PayoutLimitChange(models.Model):
    """A raise or removal of limits proposed by one compliance admin, applied only when another approves.

    `proposed` holds the new values of the limits it changes only: {"daily_max": "5000.00" | null}."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REFUSED = "refused"
        SUPERSEDED = "superseded"

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField()
    proposed = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        permissions = [
            ("set_limits", "Can set payout limits (raising one needs another admin's approval)"),
            ("approve_limit_change", "Can approve or refuse another admin's raise of a payout limit"),
        ]
        constraints = [
            # One change waits per merchant and mode: a new proposal supersedes it (limits.services).
            models.UniqueConstraint(
                fields=["merchant", "livemode"],
                condition=models.Q(status="pending"),
                name="payout_limit_change_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"limit change {self.pk} ({self.status})"


class PayoutLimitUsage(models.Model):
    """What a merchant and mode has paid out on one day (Argentina's calendar), in total (customer_public_id
    "") or to one customer: the counters limits_consume() checks and adds to in one statement. A payout
    that fails or is canceled gives its amount back (limits.services.limits_release)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    livemode = models.BooleanField()
    day = models.DateField()
    customer_public_id = models.CharField(max_length=40, blank=True, default="")
    used = models.DecimalField(max_digits=AMOUNT_DIGITS + 4, decimal_places=AMOUNT_PLACES)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "day", "customer_public_id"], name="payout_limit_usage_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.customer_public_id or 'total'}: {self.used} {CURRENCY}"
