"""Settings for the back-office benchmark: production settings, the admin's static files collected once
into bench/results/static (the manifest storage needs them), no HTTPS redirect on loopback."""

from pathlib import Path

from payoutsite.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STATIC_ROOT = Path(__file__).resolve().parent / "results" / "static"
