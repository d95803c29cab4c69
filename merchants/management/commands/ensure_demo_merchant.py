"""Create the demo merchant for `make run` if there is none, and print its keys.

    python manage.py ensure_demo_merchant

Keys are stored only as hashes, so they can be printed only when created; on later runs this
prints how to get a fresh test key instead.
"""

from django.core.management.base import BaseCommand

from audit.context import command_actor
from merchants.models import Merchant
from merchants.services import merchant_create

DEMO_NAME = "Demo merchant"


class Command(BaseCommand):
    help = "Create a demo merchant if none exists and print its keys."

    @command_actor
    def handle(self, *args, **options):
        existing = Merchant.objects.filter(name=DEMO_NAME).order_by("id").first()
        if existing is not None:
            test_key = existing.api_keys.filter(livemode=False, revoked_at=None).order_by("-id").first()
            self.stdout.write(f"Demo merchant {existing.public_id} exists; its keys were printed when it was created.")
            if test_key is not None:
                command = f".venv/bin/python manage.py roll_api_key {test_key.public_id} --expires-in-hours 0"
                self.stdout.write(f"For a new test key: {command}")
            return
        merchant, test_key, live_key = merchant_create(name=DEMO_NAME)
        self.stdout.write(f"Demo merchant {merchant.public_id} created. Its keys (shown once):")
        self.stdout.write(f"  test: {test_key.secret}")
        self.stdout.write(f"  live: {live_key.secret}")
