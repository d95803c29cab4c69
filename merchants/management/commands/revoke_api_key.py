"""Revoke a secret key at once.

python manage.py revoke_api_key key_…
"""

from django.core.management.base import BaseCommand, CommandError

from audit.context import command_actor
from merchants.selectors import api_key_get
from merchants.services import api_key_revoke


class Command(BaseCommand):
    help = "Revoke the key KEY_ID: every request with it is refused from now on."

    def add_arguments(self, parser):
        parser.add_argument("key_id", help="The id (key_…) of the key to revoke.")

    @command_actor
    def handle(self, *args, key_id: str, **options):
        api_key = api_key_get(public_id=key_id)
        if api_key is None:
            raise CommandError(f"No such key: {key_id}")
        api_key_revoke(api_key=api_key)
        self.stdout.write(f"revoked {api_key.public_id}")
