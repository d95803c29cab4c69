"""Settings for the test suite: the real settings, with test-only values for what production must supply."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdefghijklmnop")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LTMyYnl0ZXM=")
os.environ.setdefault("ACCOUNT_FINGERPRINT_KEY", "test-only-fingerprint-key-0123456789abcdef")
# The webhook tests receive on 127.0.0.1 (and so do the workers they start, which inherit this).
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_TEST_URLS", "true")
if not os.environ.get("DATABASE_URL"):  # a bare `pytest`: the embedded development server (make test: its own)
    from payoutsite.devdb import database_url

    os.environ["DATABASE_URL"] = database_url()

from payoutsite.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# The suite does not run collectstatic; production serves the hashed manifest.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
