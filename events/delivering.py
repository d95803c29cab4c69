"""One attempt of a delivery, as the deliver task runs it.

At least once, never lost: a failed attempt enqueues the next one, after its backoff, in the transaction
that records it; a worker killed mid-attempt leaves its task running, and run_workers puts it back in the
queue once it is stale (events.services.tasks_recover), so another worker makes the attempt: the receiver
may see the event twice, with the same webhook-id, never zero times.

Attempts are numbered, and the outcome is recorded only if the delivery is still pending with fewer
attempts: a task whose attempt was already made (a stale task run again while its worker was only slow)
changes nothing. That record is one message of statements (core.db write batch: one round trip, one
transaction), each conditioned on the first having moved the delivery, marked with a token only this
attempt knows.
"""

import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks import Webhook

from core import db
from events import sending, services, tasks
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from events.representations import EVENT_FIELDS, event_representation, row

logger = logging.getLogger(__name__)

# The outcome's first statement: the delivery moves only if this attempt is still to be recorded.
MOVE = """UPDATE events_delivery SET attempts = %s, status = %s, next_attempt_at = %s, finished_at = %s,
       next_task_id = %s
 WHERE id = %s AND status = 'pending' AND attempts < %s"""
# "This attempt moved the delivery": the later statements of the outcome's batch run only then.
MOVED_BY_THIS_ATTEMPT = "EXISTS (SELECT 1 FROM events_delivery WHERE id = %s AND next_task_id = %s)"


def backoff_seconds(attempt: int) -> float:
    """The wait after failed attempt number `attempt` (1, 2, …): doubling from the base, capped, with
    ±20% jitter so endpoints that failed together are not retried together."""
    base = min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1), settings.WEBHOOK_RETRY_MAX_SECONDS)
    return base * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)


# The delivery, its event and its endpoint, if the attempt is still to be made. Plain SQL: the ORM took
# longer to build this query than PostgreSQL takes to run it, once per attempt (bench/webhooks.py).
TO_ATTEMPT = """
SELECT d.id, d.created_at, d.endpoint_id, e.public_id, e.type, e.created_at, e.livemode, e.data,
       w.url, w.livemode, w.status, w.deleted_at, w.secret_ciphertext, w.previous_secret_ciphertext,
       w.previous_secret_expires_at, w.public_id
  FROM events_delivery d
  JOIN events_event e ON e.id = d.event_id
  JOIN events_webhookendpoint w ON w.id = d.endpoint_id
 WHERE d.id = %s AND d.status = 'pending' AND d.attempts < %s
"""


ATTEMPT_EVENT_FIELDS = ("public_id", "type", "created_at", "livemode", "data")
ATTEMPT_ENDPOINT_FIELDS = (
    "url",
    "livemode",
    "status",
    "deleted_at",
    "secret_ciphertext",
    "previous_secret_ciphertext",
    "previous_secret_expires_at",
    "public_id",
)


def _to_attempt(delivery_id: int, number: int) -> Delivery | None:
    """The delivery (with its event and endpoint: the columns of TO_ATTEMPT), or None if done."""
    with connection.cursor() as cursor:
        cursor.execute(TO_ATTEMPT, [delivery_id, number])
        found = cursor.fetchone()
    if found is None:
        return None
    pk, created_at, endpoint_id = found[:3]
    event = Event(**dict(zip(ATTEMPT_EVENT_FIELDS, found[3:8], strict=True)))
    endpoint = WebhookEndpoint(pk=endpoint_id, **dict(zip(ATTEMPT_ENDPOINT_FIELDS, found[8:], strict=True)))
    return Delivery(pk=pk, created_at=created_at, endpoint=endpoint, event=event)


def attempt(delivery_id: int, number: int) -> str:
    """Make attempt `number` of the delivery, unless it is done or was made; what happened, for the log."""
    delivery = _to_attempt(delivery_id, number)
    if delivery is None:
        return "already made"
    endpoint, event = delivery.endpoint, delivery.event
    if endpoint.deleted_at is not None or endpoint.status != WebhookEndpoint.Status.ENABLED:
        _stop(delivery)
        return "endpoint disabled or deleted"
    try:
        body = orjson.dumps(event_representation(row(event, EVENT_FIELDS)))
        answer = sending.post(
            endpoint.url,
            body,
            _headers(endpoint, event.public_id, body),
            livemode=endpoint.livemode,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    except DatabaseError:
        raise  # the task fails and tasks_recover runs it again
    except Exception as error:  # a bug or a key that cannot decrypt: a failed attempt, retried, never a stuck one
        logger.exception("webhook delivery %s: attempt %s could not be made", delivery.pk, number)
        answer = sending.Answer(False, None, f"internal_error: {error.__class__.__name__}", 0, "")
    outcome = _record(delivery, number, answer)
    if outcome == "failed for good":
        _disable_if_failing(delivery)
    return outcome


def first_attempts(deliveries: list[list[int]], deadline: float | None = None) -> str:
    """The first attempt of each delivery ([delivery id, endpoint id] pairs), in order. An endpoint that
    fails one gets the rest of its first attempts as deliver tasks of their own (a timeout is 10 s: it
    cannot hold up the other endpoints), and past a third of TASK_STALE_SECONDS (so this task is never
    taken for a dead one; or the caller's deadline, a time.monotonic()) the rest goes to a new task."""
    if deadline is None:
        deadline = time.monotonic() + settings.TASK_STALE_SECONDS / 3
    failing: set[int] = set()
    for done, (delivery_id, endpoint_id) in enumerate(deliveries, start=1):
        if endpoint_id in failing:
            services.enqueue_now(tasks.deliver, delivery_id, 1)
        elif attempt(delivery_id, 1) in ("will retry", "failed for good"):
            failing.add(endpoint_id)
        if done < len(deliveries) and time.monotonic() > deadline:
            services.enqueue_now(tasks.first_attempts, deliveries[done:])
            return f"{done} first attempt(s) made, {len(deliveries) - done} handed to a new task"
    return f"{len(deliveries)} first attempt(s) made"


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


@dataclass(frozen=True)
class Next:
    status: str
    next_attempt_at: datetime | None
    finished_at: datetime | None
    outcome: str


def _next(delivery: Delivery, number: int, answer: sending.Answer, now: datetime) -> Next:
    if answer.succeeded:
        return Next(Delivery.Status.SUCCEEDED, None, now, "succeeded")
    retry_at = now + timedelta(seconds=backoff_seconds(number))
    if retry_at > delivery.created_at + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS):
        return Next(Delivery.Status.FAILED, None, now, "failed for good")
    return Next(Delivery.Status.PENDING, retry_at, None, "will retry")


def _record(delivery: Delivery, number: int, answer: sending.Answer) -> str:
    """The attempt, the delivery's new state and the retry's task: one batch."""
    now = timezone.now()
    step = _next(delivery, number, answer, now)
    token = uuid.uuid4()  # the retry task's id when there is one; else only this attempt's mark
    moved = (delivery.pk, token)
    with db.write_batch():
        db.execute(
            MOVE,
            (number, step.status, step.next_attempt_at, step.finished_at, token, delivery.pk, number),
        )
        attempt_row = DeliveryAttempt(
            delivery_id=delivery.pk,
            attempted_at=now - timedelta(milliseconds=answer.duration_ms),
            status_code=answer.status_code,
            error=answer.error,
            duration_ms=answer.duration_ms,
            response_excerpt=answer.excerpt,
            succeeded=answer.succeeded,
        )
        db.insert_where(attempt_row, MOVED_BY_THIS_ATTEMPT, moved)
        if step.next_attempt_at is not None:
            db.insert_where(
                _task_row(token, step.next_attempt_at, delivery.pk, number + 1), MOVED_BY_THIS_ATTEMPT, moved
            )
    return step.outcome


def _task_row(task_id: uuid.UUID, run_after: datetime, delivery_id: int, number: int) -> DBTaskResult:
    """The deliver task's row, as the backend's enqueue() writes it, to go in a batch."""
    task = tasks.deliver
    return DBTaskResult(
        id=task_id,
        args_kwargs={"args": [delivery_id, number], "kwargs": {}},
        priority=task.priority,
        task_path=task.module_path,
        queue_name=task.queue_name,
        run_after=run_after,
        backend_name=task.backend,
    )


def _stop(delivery: Delivery) -> None:
    """The endpoint was disabled or deleted: the delivery ends, failed, and nothing is sent."""
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED, finished_at=timezone.now(), next_attempt_at=None
    )


@transaction.atomic
def _disable_if_failing(delivery: Delivery) -> None:
    """A delivery failed for the whole retry window: its endpoint is disabled unless some attempt to it
    got a 2xx in that time."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if endpoint.status != WebhookEndpoint.Status.ENABLED:
        return
    answered = DeliveryAttempt.objects.filter(
        delivery__endpoint=endpoint, succeeded=True, attempted_at__gte=delivery.created_at
    ).exists()
    if not answered:
        endpoint.status, endpoint.disabled_reason = WebhookEndpoint.Status.DISABLED, "failing"
        endpoint.disabled_at = timezone.now()
        endpoint.save(update_fields=["status", "disabled_reason", "disabled_at"])
        logger.warning("webhook endpoint %s disabled: no 2xx for the whole retry window", endpoint.public_id)
