"""Background tasks (Django's Tasks framework on django-tasks-db; run by `manage.py run_workers`)."""

from django.tasks import task

from events import delivering, services


@task(queue_name="webhooks")
def fan_out(event_ids: list[str]) -> str:
    """Events recorded together → a delivery per listening endpoint, and their first attempts, made here
    (one task for a worker's whole batch of events, not one per delivery). Run again, it makes no delivery
    twice and only the first attempts not made yet."""
    services.deliveries_fan_out(event_ids=event_ids)
    return delivering.first_attempts(event_ids)


@task(queue_name="webhooks")
def deliver(delivery_id: int, number: int) -> str:
    return delivering.attempt(delivery_id, number)
