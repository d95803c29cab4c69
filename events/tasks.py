"""Background tasks (Django's Tasks framework on django-tasks-db; run by `manage.py run_workers`)."""

import time

from django.conf import settings
from django.tasks import task

from events import delivering, services

COALESCE = 100


@task(queue_name="webhooks")
def fan_out(event_ids: list[str]) -> str:
    """Events recorded together → a delivery per listening endpoint, and their first attempts, made here
    (one task for a worker's whole batch of events, not one per delivery). Run again, it makes no delivery
    twice and only the first attempts not made yet. Then, while it has time, it takes up to
    COALESCE fan-out tasks still waiting and does their work too (the API records one event per request:
    one task each would cost the engine's claim and bookkeeping per delivery)."""
    deadline = time.monotonic() + settings.TASK_STALE_SECONDS / 3
    outcome = _fan_out(event_ids, deadline)
    while time.monotonic() < deadline and (taken := services.fan_out_tasks_take(limit=COALESCE)):
        outcome = _fan_out([event_id for ids in taken.values() for event_id in ids], deadline)
        services.fan_out_tasks_done(task_ids=list(taken))
    return outcome


def _fan_out(event_ids: list[str], deadline: float) -> str:
    services.deliveries_fan_out(event_ids=event_ids)
    return delivering.first_attempts(services.first_attempts_due(event_ids=event_ids), deadline)


@task(queue_name="webhooks")
def first_attempts(deliveries: list[list[int]]) -> str:
    """First attempts handed on ([delivery id, endpoint id] pairs): by a task out of time, or a resend."""
    return delivering.first_attempts(deliveries)


@task(queue_name="webhooks")
def deliver(delivery_id: int, number: int) -> str:
    return delivering.attempt(delivery_id, number)
