"""Delete Idempotency-Key records older than the retention (at least 24 hours).

    python manage.py purge_idempotency_keys --older-than-hours 48

Run it daily (cron, a scheduler). A key younger than 24 hours is never deleted.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from audit.context import command_actor
from idempotency.services import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete idempotency keys older than --older-than-hours (default and minimum 24)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-hours", type=float, default=24.0, help="Retention in hours (>= 24).")

    @command_actor
    def handle(self, *args, older_than_hours: float, **options):
        if older_than_hours < 24:
            raise CommandError("--older-than-hours must be at least 24: keys are kept at least a day.")
        deleted = idempotency_keys_purge(older_than=timedelta(hours=older_than_hours))
        self.stdout.write(f"deleted {deleted} idempotency keys")
