"""Background tasks (Django's Tasks framework on django-tasks-db; run by `manage.py run_workers`)."""

from django.tasks import task

from events import delivering, services


@task(queue_name="webhooks")
def fan_out(event_ids: list[str]) -> int:
    """Events recorded together → a delivery (and its first attempt's task) per listening endpoint."""
    return services.deliveries_fan_out(event_ids=event_ids)


@task(queue_name="webhooks")
def deliver(delivery_id: int, number: int) -> str:
    return delivering.attempt(delivery_id, number)
