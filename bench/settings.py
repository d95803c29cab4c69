"""Settings for the load benchmark: the production settings, plus the bare baseline views' routes."""

from payoutsite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False
STATIC_ROOT = None  # the bench serves no static files; no collectstatic needed
