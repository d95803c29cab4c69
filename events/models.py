"""Events (what changed, as the API showed it) and their delivery to merchants' webhook endpoints.

An event is written in the transaction of the change it records. Its delivery to each endpoint is a
Delivery, worked by background tasks (events.tasks on Django's Tasks framework, django-tasks-db); every
HTTP attempt is a DeliveryAttempt.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from core.ids import new_public_id, new_sortable_public_id
from merchants.models import Merchant


def new_event_id() -> str:
    return new_sortable_public_id("evt")  # one per change: its index grows at the end


def new_endpoint_id() -> str:
    return new_public_id("we")


def new_delivery_id() -> str:
    return new_public_id("whd")


class Event(models.Model):
    public_id = models.CharField(max_length=40, default=new_event_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    livemode = models.BooleanField()
    type = models.CharField(max_length=40)
    # {"object": the resource as the API returned it then, "previousAttributes": what changed, old values},
    # as JSON text: jsonb would reorder the keys, and the object is shown exactly as the API showed it.
    data = models.TextField()
    # Its deliveries were made (events.services.deliveries_fan_out): a repeated fan-out task skips it.
    fanned_out = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        permissions = [("resend_event", "Can resend an event to its webhook endpoints")]
        indexes = [
            # GET /events pages (scope, newest first) and its type filter. The purge walks the primary key
            # (events are created in id order), so created_at needs no index on this hot insert path.
            models.Index(fields=["merchant", "livemode", "-id"], name="event_scope_page"),
            models.Index(fields=["merchant", "livemode", "type", "-id"], name="event_scope_type_page"),
        ]
        constraints = [models.UniqueConstraint(fields=["public_id"], name="event_public_id_unique")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"


class WebhookEndpoint(models.Model):
    class Status(models.TextChoices):
        ENABLED = "enabled"
        DISABLED = "disabled"

    public_id = models.CharField(max_length=40, default=new_endpoint_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    livemode = models.BooleanField()
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=500, blank=True, default="")
    enabled_events = ArrayField(models.CharField(max_length=40))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ENABLED)
    # Why it is disabled: "merchant" (PATCH status), or "failing" (every attempt failed for the retry window).
    disabled_reason = models.CharField(max_length=20, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The signing secrets (whsec_…), encrypted like account numbers. After a roll the previous one keeps
    # signing, beside the new one, until previous_secret_expires_at.
    secret_ciphertext = models.TextField(editable=False)
    previous_secret_ciphertext = models.TextField(blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            # Which endpoints an event goes to (events.services), and GET /webhook-endpoints pages.
            models.Index(
                fields=["merchant", "livemode", "-id"],
                name="endpoint_scope_page",
                condition=models.Q(deleted_at__isnull=True),
            ),
        ]
        constraints = [models.UniqueConstraint(fields=["public_id"], name="endpoint_public_id_unique")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.url}"


class Delivery(models.Model):
    """One event to one endpoint: pending until an attempt gets a 2xx (succeeded) or the retry window
    ends (failed). A resend is a new Delivery."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    public_id = models.CharField(max_length=40, default=new_delivery_id, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # The retry's task after a failed attempt; also the mark of the attempt that recorded last
    # (events.delivering: an outcome's statements apply only after its own mark is set).
    next_task_id = models.UUIDField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            # GET /webhook-endpoints/{id}/deliveries pages, newest first.
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_page"),
        ]
        constraints = [models.UniqueConstraint(fields=["public_id"], name="delivery_public_id_unique")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True, default="")  # e.g. "timeout", "connection refused"
    duration_ms = models.PositiveIntegerField()
    response_excerpt = models.CharField(max_length=1024, blank=True, default="")  # the first 1 KB, as text
    succeeded = models.BooleanField()

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
