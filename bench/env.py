"""Settings every bench script runs with (python -m bench.run / bench.worker from the project root):
production settings, throwaway secrets, the bench URLs."""

import os


def configure() -> None:
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2gtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=")
    os.environ.setdefault("ACCOUNT_FINGERPRINT_KEY", "bench-only-fingerprint-key-0123456789abcdef")
    os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_TEST_URLS", "true")  # the bench's receivers are on 127.0.0.1
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
