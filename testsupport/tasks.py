"""Running the task queue in a test, the way a task worker does."""

from django.core.management import call_command


def run_tasks() -> None:
    """django-tasks-db's own worker, in batch mode: every task due now, then back. It closes and reopens
    connections between tasks as in production, so call it from transactional tests only."""
    call_command("db_worker", "--queue-name", "*", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)
