"""The framework-minimal baseline: what `django-admin startproject` gives, serving two tables with the same
columns as customers_customer and payouts_payout, in a database of their own (no triggers, a primary key
only). The API's request path is measured against it (bench/run.py): what the project adds on top of Django,
its settings, middleware, schema and code, shows as the ratio.

Kept to startproject's defaults (apps, middleware, templates) except where the comparison needs otherwise:
DEBUG off, the database from MINIMAL_DATABASE_URL, persistent connections like the project's (without them
every request would open a connection and the baseline would measure that).
"""

import os

import dj_database_url

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-minimal-only-secret-key-" + "x" * 40)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "bench.minimal",
]

# Django's default middleware, as startproject writes it.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bench.minimal.urls"
WSGI_APPLICATION = "bench.minimal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# Same PostgreSQL as the project, another database (bench/run.py derives its name: <project db>_minimal).
# Persistent connections as the project's CONN_MAX_AGE; no health checks, no ATOMIC_REQUESTS (Django's defaults).
DATABASES = {"default": dj_database_url.parse(os.environ["MINIMAL_DATABASE_URL"], conn_max_age=60)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# The trivial authentication of the views: one bearer secret compared as a string (no table, no hash).
MINIMAL_API_KEY = os.environ.get("MINIMAL_API_KEY", "sk_test_minimal")
MINIMAL_MERCHANT_ID = 1
