"""Delete events older than the retention, with their deliveries and attempts.

    python manage.py purge_events              # older than EVENT_RETENTION_DAYS (30 unless set; never fewer)
    python manage.py purge_events --days 90

Run it daily (cron, or your scheduler). It deletes in batches, each its own transaction, so it can run
beside the API and the workers. Finished task rows of the task engine go with django-tasks-db's own
`prune_db_task_results`.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.context import command_actor
from events.services import events_purge


class Command(BaseCommand):
    help = "Delete events (and their deliveries) older than the retention period."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Keep this many days (at least 30).")

    @command_actor
    def handle(self, *args, days: int | None, **options):
        days = settings.EVENT_RETENTION_DAYS if days is None else days
        if days < 30:
            raise CommandError("--days must be at least 30: events are kept at least 30 days.")
        deleted = events_purge(older_than_days=days)
        self.stdout.write(f"deleted {deleted} event(s) older than {days} days")
