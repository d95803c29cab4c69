"""List a merchant's keys (ids, display prefixes, state), never their secrets.

python manage.py list_api_keys mer_…
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.context import command_actor
from merchants.selectors import api_keys_for_merchant, merchant_get


class Command(BaseCommand):
    help = "List MERCHANT_ID's API keys: id, mode, display prefix, state."

    def add_arguments(self, parser):
        parser.add_argument("merchant_id", help="The merchant id (mer_…).")

    @command_actor
    def handle(self, *args, merchant_id: str, **options):
        merchant = merchant_get(public_id=merchant_id)
        if merchant is None:
            raise CommandError(f"No such merchant: {merchant_id}")
        now = timezone.now()
        for key in api_keys_for_merchant(merchant=merchant):
            state = "active" if key.is_active(now) else ("revoked" if key.revoked_at else "expired")
            expiry = f" expires {key.expires_at:%Y-%m-%dT%H:%M:%SZ}" if key.expires_at else ""
            self.stdout.write(f"{key.public_id} {key.mode} {key.prefix}… {state}{expiry}")
