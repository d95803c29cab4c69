"""Delete the velocity hold's hourly totals (payouts.models.VelocityHour) of hours the 24-hour window has left.

    python manage.py purge_velocity_hours

Run it daily (cron, a scheduler): a busy day leaves one row per customer paid per hour.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.context import command_actor
from payouts.holds import VELOCITY_WINDOW, velocity_purge


class Command(BaseCommand):
    help = "Delete the velocity hold's hourly totals of hours older than the 24-hour window."

    @command_actor
    def handle(self, *args, **options):
        deleted = velocity_purge(before=timezone.now() - VELOCITY_WINDOW)
        self.stdout.write(f"deleted {deleted} hourly totals")
