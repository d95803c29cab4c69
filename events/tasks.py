"""Background tasks (Django's Tasks framework on django-tasks-db; run by `manage.py run_workers`)."""

from django.tasks import task

from events import delivering, services


@task(queue_name="webhooks")
def fan_out(event_ids: list[str]) -> str:
    """Events recorded together → a delivery per listening endpoint, and their first attempts, made here
    (one task for a worker's whole batch of events, not one per delivery). Run again, it makes no delivery
    twice and only the first attempts not made yet."""
    services.deliveries_fan_out(event_ids=event_ids)
    return delivering.first_attempts(services.first_attempts_due(event_ids=event_ids))


@task(queue_name="webhooks")
def first_attempts(deliveries: list[list[int]]) -> str:
    """First attempts handed on ([delivery id, endpoint id] pairs): by a task out of time, or a resend."""
    return delivering.first_attempts(deliveries)


@task(queue_name="webhooks")
def deliver(delivery_id: int, number: int) -> str:
    return delivering.attempt(delivery_id, number)
