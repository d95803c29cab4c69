from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone

from audit.tracking import tracked
from core.fields import PublicIdForeignKey
from core.ids import new_public_id
from customers.models import BankAccount, Customer, now_to_the_second
from merchants.models import Merchant

AMOUNT_DIGITS = 14  # up to 999,999,999,999.99
AMOUNT_PLACES = 2


def new_payout_id() -> str:
    return new_public_id("po")


@tracked("PayoutHistory", exclude=["destination_ciphertext", "destination_fingerprint"])
class Payout(models.Model):
    """Money out to one CBU/CVU. Never deleted; every status change is a PayoutEvent."""

    class Status(models.TextChoices):
        HELD = "held"  # waiting for compliance (payouts.holds); the worker never sees it
        PENDING = "pending"
        PROCESSING = "processing"
        PAID = "paid"
        FAILED = "failed"
        CANCELED = "canceled"

    public_id = models.CharField(max_length=40, default=new_payout_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    livemode = models.BooleanField()
    # Keyed on public ids, so responses and filters need no join.
    customer = PublicIdForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payouts",
        db_index=False,
    )
    bank_account = PublicIdForeignKey(
        BankAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payouts",
        db_index=False,
    )
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    currency = models.CharField(max_length=3, default="ARS")
    # The destination as sent: encrypted like a bank account's number, never in clear.
    destination_ciphertext = models.TextField(editable=False)
    destination_key_id = models.CharField(max_length=16, editable=False)
    destination_fingerprint = models.CharField(max_length=64, editable=False)
    destination_last4 = models.CharField(max_length=4, editable=False)
    description = models.CharField(max_length=500, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=40, blank=True, default="")
    failure_message = models.CharField(max_length=500, blank=True, default="")
    # Why it was held at creation (payouts.holds codes); kept after the decision, as its history.
    hold_reasons = ArrayField(models.CharField(max_length=40), default=list, blank=True, editable=False)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now_to_the_second, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("decide_payout", "Can approve or reject held payouts")]
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="payout_scope_page"),
            models.Index(fields=["customer", "-id"], name="payout_customer_page"),
            # The worker's queue, one mode at a time: only unfinished payouts are indexed, so it stays small,
            # and live payouts waiting for a bank rail are never in test mode's way.
            models.Index(
                fields=["status", "livemode", "id"],
                name="payout_queue_by_mode",
                condition=models.Q(status__in=["pending", "processing"]),
            ),
            # Payouts to a number: the pending ones a decision stops (payouts.services.payouts_fail_stopped), and
            # the back-office's search by full account number (payouts.selectors.payouts_search), which needs
            # every status: one index for both, where the stops had a partial one of pending payouts.
            models.Index(
                fields=["merchant", "livemode", "destination_fingerprint"],
                name="payout_destination",
            ),
            # The back-office's search by last four digits (one-off payouts have no account to go through).
            models.Index(fields=["destination_last4"], name="payout_destination_last4"),
            BrinIndex(fields=["created_at"], name="payout_created_brin"),
            # The review queue (compliance.review): only held payouts, oldest first, so it stays small.
            models.Index(
                fields=["id"], include=["merchant"], name="payout_held_queue", condition=models.Q(status="held")
            ),
            # The velocity hold (payouts.holds): a customer's payouts of the last 24 hours, one range read.
            models.Index(
                fields=["customer", "created_at"],
                include=["amount", "status"],
                name="payout_customer_recent",
                condition=models.Q(customer__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="payout_public_id_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=Decimal("0")), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=["held", "pending", "processing", "paid", "failed", "canceled"]),
                name="payout_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency} {self.status} (…{self.destination_last4})"


class PayoutEvent(models.Model):
    """One status change of a payout: when, from, to, why."""

    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=12)
    to_status = models.CharField(max_length=12)
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"


class VelocityHour(models.Model):
    """A customer's payouts created in one hour (UTC), failed and canceled ones given back: the velocity hold
    (payouts.holds) sums the last 24 hours from at most 25 of these rows, whatever the customer's volume.
    Written in the payout's own write batch and by the transition that ends it; rows past the window are
    deleted by `manage.py purge_velocity_hours`."""

    pk = models.CompositePrimaryKey("customer_public_id", "hour")
    customer_public_id = models.CharField(max_length=40)
    hour = models.DateTimeField()
    # A sum of payouts: room for many of the largest.
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS + 6, decimal_places=AMOUNT_PLACES)

    def __str__(self) -> str:
        return f"{self.customer_public_id} {self.hour:%Y-%m-%d %H}h {self.amount}"


class PayoutApproval(models.Model):
    """One analyst's approval of a held payout. At or above COMPLIANCE_FOUR_EYES_AMOUNT the first is recorded
    here and the payout stays held; the second, by someone else, releases it (payouts.services)."""

    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="approvals", db_index=False)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["payout", "staff"], name="payout_approval_once_per_staff")]

    def __str__(self) -> str:
        return f"{self.payout_id} approved by {self.staff_id}"


class SandboxTransfer(models.Model):
    """The sandbox rail's own ledger: what "the bank" received, one row per payout id.

    It is what lets a restarted worker ask the rail what happened to a payout instead of sending again.
    """

    payout_public_id = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=12)
    failure_code = models.CharField(max_length=40, blank=True, default="")
    failure_message = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.payout_public_id} {self.status}"
