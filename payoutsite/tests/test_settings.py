"""Production settings refuse to start half-configured and pass Django's deployment checks."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testsupport.databases import running_test_database_url

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "p" * 10 + "Kq8#vL2!xR9@mN4$wT7^zB1&cF5*hJ3(yG6)dS0-aE8+uI2=oP4"
FERNET_KEY = "cHJvZHVjdGlvbi1saWtlLWtleS1mb3ItdGhlLXRlc3Q="
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG_KEY,
    "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
    "ACCOUNT_FINGERPRINT_KEY": "f" * 8 + "ingerprint-key-for-the-settings-test",
}


# Every variable the settings read (.env.example lists them all: see the last test).
SETTINGS_VARIABLES = frozenset(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))


@pytest.fixture(scope="module", autouse=True)
def subprocess_database(django_db_setup, django_db_blocker) -> None:
    """The processes these tests start run on the test database (nothing committed there by these tests)."""
    global SUBPROCESS_DATABASE_URL
    with django_db_blocker.unblock():
        SUBPROCESS_DATABASE_URL = running_test_database_url()


SUBPROCESS_DATABASE_URL = ""


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process, configured by `env` alone: none of the settings variables of the shell
    that runs the tests, and the test database (never the development one in .pgdata/, whatever a
    developer's `make run` left there, e.g. account numbers under the development keys, which the
    encryption check rightly refuses under any others)."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    clean["DJANGO_SETTINGS_MODULE"] = "payoutsite.settings"
    clean["DATABASE_URL"] = SUBPROCESS_DATABASE_URL
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_debug_off_without_secret_key_refuses_to_start():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("weak", ["short", "django-insecure-" + "x" * 60])
def test_debug_off_with_weak_secret_key_refuses_to_start(weak):
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": weak})
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_deploy_check_passes_at_warning_level():
    result = manage("check", "--deploy", "--fail-level", "WARNING", ALLOWED_HOSTS="api.example.com", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS must be set"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"}, "must be Fernet keys"),
        ({"FIELD_ENCRYPTION_KEYS": f"{FERNET_KEY},short"}, "must be Fernet keys"),
        ({"FIELD_ENCRYPTION_KEYS": "ZGV2ZWxvcG1lbnQtb25seS1rZXktZG8tbm90LXVzZSE="}, "public development key"),
        ({"ACCOUNT_FINGERPRINT_KEY": ""}, "ACCOUNT_FINGERPRINT_KEY must be set"),
        ({"ACCOUNT_FINGERPRINT_KEY": "short"}, "at least 32 random characters"),
    ],
)
def test_debug_off_with_missing_or_bad_encryption_keys_refuses_to_start(override, message):
    result = manage("check", **{**PRODUCTION, **override})
    assert result.returncode != 0
    assert message in result.stderr


def test_debug_on_needs_nothing():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_env_example_lists_every_variable_the_settings_read():
    settings_text = (ROOT / "payoutsite" / "settings.py").read_text()
    example = (ROOT / ".env.example").read_text()
    read = set(re.findall(r'(?:environ\.get|env_bool|env_list|env_seconds)\(\s*"([A-Z_]+)"', settings_text))
    read |= {"DATABASE_URL"}
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", example, re.MULTILINE))
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"


def test_subprocesses_ignore_the_development_database_and_the_shells_settings(settings):
    """What `make run` leaves behind (.pgdata/) or a shell exports must not decide these tests' outcome."""
    show = "from django.conf import settings; print(settings.DATABASES['default']['NAME'], settings.CONN_MAX_AGE)"
    result = manage("shell", "-v", "0", "-c", show, DEBUG="true")
    assert result.returncode == 0, result.stderr
    name, conn_max_age = result.stdout.split()
    assert name == settings.DATABASES["default"]["NAME"]  # the test database
    assert conn_max_age == "60"  # the default, whatever CONN_MAX_AGE the shell had


@pytest.mark.parametrize(
    ("url", "message"),
    [("", "DATABASE_URL must be set"), ("mysql://user@db.internal/payouts", "DATABASE_URL must point at PostgreSQL")],
)
def test_production_needs_a_postgresql_database_url(url, message):
    result = manage("check", **{**PRODUCTION, "DATABASE_URL": url})
    assert result.returncode != 0
    assert message in result.stderr


def gunicorn_config(**env: str) -> dict:
    """gunicorn.conf.py as gunicorn's master reads it, in a fresh process with only `env` set: the
    environment its workers are forked with."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    script = "import json, os, runpy; runpy.run_path('gunicorn.conf.py'); print(json.dumps(dict(os.environ)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_debug_without_secret_key_gives_every_gunicorn_worker_the_same_key():
    """The master sets one key in the environment the workers inherit; each worker would otherwise make
    its own (settings.py) and refuse the sessions the others signed."""
    first = gunicorn_config(DEBUG="true")["SECRET_KEY"]
    assert len(first) >= 50
    assert gunicorn_config(DEBUG="true", SECRET_KEY="given-" + STRONG_KEY)["SECRET_KEY"] == "given-" + STRONG_KEY
    assert "SECRET_KEY" not in gunicorn_config(DEBUG="false")


def test_back_office_statement_timeout_must_be_below_the_worker_timeout():
    result = manage("check", **PRODUCTION, BACK_OFFICE_STATEMENT_TIMEOUT="30")
    assert result.returncode != 0 and "BACK_OFFICE_STATEMENT_TIMEOUT" in result.stderr
    assert manage("check", DEBUG="true", BACK_OFFICE_STATEMENT_TIMEOUT="5", WEB_TIMEOUT="10").returncode == 0
