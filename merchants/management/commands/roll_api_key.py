"""Roll a secret key: issue a new one for the same merchant and mode, keep the old one working a while.

    python manage.py roll_api_key key_… --expires-in-hours 24

Prints the new key alone on its last line (shown once). --expires-in-hours 0 ends the old key now.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from audit.context import command_actor
from merchants.selectors import api_key_get
from merchants.services import api_key_roll


class Command(BaseCommand):
    help = "Issue a new secret key replacing KEY_ID; the old key expires after --expires-in-hours."

    def add_arguments(self, parser):
        parser.add_argument("key_id", help="The id (key_…) of the key to roll.")
        parser.add_argument(
            "--expires-in-hours",
            type=float,
            default=24.0,
            help="How long the old key keeps working, in hours (default 24; 0 = immediately).",
        )

    @command_actor
    def handle(self, *args, key_id: str, expires_in_hours: float, **options):
        if expires_in_hours < 0 or expires_in_hours > 24 * 30:
            raise CommandError("--expires-in-hours must be between 0 and 720.")
        api_key = api_key_get(public_id=key_id)
        if api_key is None:
            raise CommandError(f"No such key: {key_id}")
        try:
            issued = api_key_roll(api_key=api_key, old_key_valid_for=timedelta(hours=expires_in_hours))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"rolled {api_key.public_id}; it expires in {expires_in_hours:g} h")
        self.stdout.write(f"new key {issued.api_key.public_id} (shown once):")
        self.stdout.write(issued.secret)
