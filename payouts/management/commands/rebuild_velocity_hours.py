"""Recompute the velocity hold's hourly totals (payouts.models.VelocityHour) of the last 25 hours from the
payouts themselves.

    python manage.py rebuild_velocity_hours

Run it once after deploying the release that introduced them (the previous release's servers created and
ended payouts without them), or to repair. Safe while the API and the workers run: payouts' writes wait for
it a moment (payouts.holds.REBUILD).
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.context import command_actor
from payouts.holds import velocity_rebuild


class Command(BaseCommand):
    help = "Recompute the velocity hold's hourly totals of the last 25 hours from the payouts."

    @command_actor
    def handle(self, *args, **options):
        velocity_rebuild(now=timezone.now())
        self.stdout.write("rebuilt the hourly totals of the last 25 hours")
