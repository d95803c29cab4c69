"""Create a merchant with a test and a live secret key.

    python manage.py create_merchant "Acme Payouts"

Prints the merchant id, then each key alone on its own line. The keys are shown only now:
only their SHA-256 hashes are stored.
"""

from django.core.management.base import BaseCommand, CommandError

from audit.context import command_actor
from merchants.services import merchant_create


class Command(BaseCommand):
    help = "Create a merchant and print its id and its test and live secret keys (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The merchant's display name.")

    @command_actor
    def handle(self, *args, name: str, **options):
        name = name.strip()
        if not name or len(name) > 200:
            raise CommandError("NAME must be 1 to 200 characters.")
        merchant, test_key, live_key = merchant_create(name=name)
        self.stdout.write(f"merchant {merchant.public_id}")
        self.stdout.write("test key (shown once):")
        self.stdout.write(test_key.secret)
        self.stdout.write("live key (shown once):")
        self.stdout.write(live_key.secret)
