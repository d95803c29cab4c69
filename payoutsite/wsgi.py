"""WSGI entry point (gunicorn payoutsite.wsgi).

Before serving, it runs the encryption start-up check: with keys that cannot decrypt the stored
account numbers, the process refuses to start rather than fail on the first payout.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payoutsite.settings")

application = get_wsgi_application()


def _refuse_to_start_on_key_errors() -> None:
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    errors = [message for message in checks.run_checks(tags=["encryption"]) if message.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(f"{error.id}: {error.msg} {error.hint}" for error in errors))


_refuse_to_start_on_key_errors()
