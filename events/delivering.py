"""One attempt of a delivery, as the deliver task runs it.

At least once, never lost, with nothing but the task engine: before an attempt starts, the task that
would repeat it is already enqueued (run after WEBHOOK_LEASE_SECONDS). A worker killed mid-attempt leaves
that task behind, and another worker makes the attempt later: the receiver may see the event twice, with
the same webhook-id, never zero times. When the attempt ends, that task is dropped, and a failed attempt
enqueues the next one after its backoff. Attempts are numbered; a task whose attempt was already made
(by a worker that outlived its lease) does nothing.
"""

import logging
import random
from datetime import timedelta

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks import Webhook

from events import sending, services, tasks
from events.models import Delivery, DeliveryAttempt, WebhookEndpoint
from events.representations import EVENT_FIELDS, event_representation, row

logger = logging.getLogger(__name__)


def backoff_seconds(attempt: int) -> float:
    """The wait after failed attempt number `attempt` (1, 2, …): doubling from the base, capped, with
    ±20% jitter so endpoints that failed together are not retried together."""
    base = min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1), settings.WEBHOOK_RETRY_MAX_SECONDS)
    return base * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)


def attempt(delivery_id: int, number: int) -> str:
    """Make attempt `number` of the delivery, unless it is done or was made; what happened, for the log."""
    delivery = _start(delivery_id, number)
    if isinstance(delivery, str):
        return delivery
    endpoint, event = delivery.endpoint, delivery.event
    body = orjson.dumps(event_representation(row(event, EVENT_FIELDS)))
    answer = sending.post(
        endpoint.url,
        body,
        _headers(endpoint, event.public_id, body),
        livemode=endpoint.livemode,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    return _finish(delivery_id, number, answer)


def _start(delivery_id: int, number: int) -> Delivery | str:
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "busy or gone"  # another worker holds it: its own lease covers it
        if delivery.status != Delivery.Status.PENDING or delivery.attempts >= number:
            return "already made"
        endpoint = delivery.endpoint
        if endpoint.deleted_at is not None or endpoint.status != WebhookEndpoint.Status.ENABLED:
            _close(delivery, Delivery.Status.FAILED)
            return "endpoint disabled or deleted"
        lease = tasks.deliver.using(run_after=timezone.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS))
        delivery.next_task_id = lease.enqueue(delivery.pk, number).id
        delivery.save(update_fields=["next_task_id"])
        return delivery


def _headers(endpoint: WebhookEndpoint, message_id: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks: webhook-id (the event's id: the same on every attempt), webhook-timestamp, and a
    v1 signature per secret (two while a rolled secret is in its grace period)."""
    now = timezone.now()
    payload = body.decode()
    signatures = [Webhook(secret).sign(message_id, now, payload) for secret in services.signing_secrets(endpoint)]
    return {
        "Content-Type": "application/json",
        "User-Agent": "payouts-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def _finish(delivery_id: int, number: int, answer: sending.Answer) -> str:
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery_id)
        if delivery.status != Delivery.Status.PENDING or delivery.attempts >= number:
            return "already made"  # this worker outlived its lease and another made the attempt
        now = timezone.now()
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now - timedelta(milliseconds=answer.duration_ms),
            status_code=answer.status_code,
            error=answer.error,
            duration_ms=answer.duration_ms,
            response_excerpt=answer.excerpt,
            succeeded=answer.succeeded,
        )
        delivery.attempts = number
        if answer.succeeded:
            _close(delivery, Delivery.Status.SUCCEEDED)
            return "succeeded"
        wait = timedelta(seconds=backoff_seconds(number))
        if now + wait > delivery.created_at + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS):
            _close(delivery, Delivery.Status.FAILED)
            _disable_if_failing(delivery, now)
            return "failed for good"
        _drop_lease(delivery)
        retry = tasks.deliver.using(run_after=now + wait).enqueue(delivery.pk, number + 1)
        delivery.next_task_id, delivery.next_attempt_at = retry.id, now + wait
        delivery.save(update_fields=["attempts", "next_task_id", "next_attempt_at"])
        return "will retry"


def _close(delivery: Delivery, status: str) -> None:
    _drop_lease(delivery)
    delivery.status, delivery.finished_at, delivery.next_task_id = status, timezone.now(), None
    delivery.save(update_fields=["status", "finished_at", "next_task_id", "attempts"])


def _drop_lease(delivery: Delivery) -> None:
    """The task that would repeat this attempt is not needed: drop it, unless a worker already took it."""
    if delivery.next_task_id is not None:
        DBTaskResult.objects.filter(pk=delivery.next_task_id, status="READY").delete()


def _disable_if_failing(delivery: Delivery, now) -> None:
    """A delivery failed for the whole retry window: its endpoint is disabled unless some attempt to it
    got a 2xx in that time."""
    endpoint = delivery.endpoint
    answered = DeliveryAttempt.objects.filter(
        delivery__endpoint=endpoint, succeeded=True, attempted_at__gte=delivery.created_at
    ).exists()
    if not answered and endpoint.status == WebhookEndpoint.Status.ENABLED:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            status=WebhookEndpoint.Status.DISABLED, disabled_reason="failing", disabled_at=now
        )
        logger.warning("webhook endpoint %s disabled: no 2xx for the whole retry window", endpoint.public_id)
