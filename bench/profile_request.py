"""One request of each measured endpoint, end to end inside the project (WSGI handler, every middleware, DRF,
the view, PostgreSQL round trips), without gunicorn:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench .venv/bin/python -m bench.profile_request

For POST /customers, GET /customers?limit=50 and POST /payouts (a customer's default account, no
Idempotency-Key), on bench/run.py's seeded data (200,000 customers), one persistent connection:

- the SQL the request sends, each statement with its time (CaptureQueriesContext), and the connection health
  check's `SELECT 1` (conn_health_checks: sent by psycopg2 directly, so counted apart);
- µs per request, the best of --repeat runs of --requests requests;
- cProfile over --requests requests: the top entries by cumulative and by own time;
- ablations, µs per request with one thing removed (middleware, the health check, the audit context), each
  the best of --repeat runs: what each costs a request.

Writes bench/results/profile.txt too.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from contextlib import contextmanager, redirect_stdout

from bench import run as base  # sets the bench's environment (bench/env.py)

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.minimal_run_settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")  # as bench/run.py's servers: no access-log line per request

# Session, auth and messages middleware: Django's own, or the project's back-office-only wrappers of them.
MIDDLEWARE_PREFIX = ("django.contrib", "api.middleware.BackOffice")


class AnonymousAuditMiddleware:
    """AuditMiddleware without request.user (no AuthenticationMiddleware before it): what an API route
    would run with the session, auth and messages middleware left to the admin."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from audit.context import actor

        with actor("anonymous", path=request.path, request_id=getattr(request, "request_id", "")):
            return self.get_response(request)


class Endpoint:
    def __init__(self, label: str, method: str, path: str, query: str, key: str, body: bytes | None):
        self.label, self.method, self.path, self.query, self.key, self.body = label, method, path, query, key, body

    def environ(self) -> dict:
        body = self.body or b""
        environ = {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": self.path,
            "QUERY_STRING": self.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_USER_AGENT": "wrk",
            "HTTP_AUTHORIZATION": f"Bearer {self.key}",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        if self.body is not None:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ


def call(app, endpoint: Endpoint) -> int:
    status = []
    response = app(endpoint.environ(), lambda s, h, exc_info=None: status.append(s))
    for _ in response:
        pass
    response.close()
    code = int(status[0].split()[0])
    if code >= 300:
        sys.exit(f"{endpoint.label}: {status[0]}")
    return code


def per_request_us(app, endpoint: Endpoint, requests: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(requests):
            call(app, endpoint)
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


@contextmanager
def counting_health_checks():
    """conn_health_checks sends `SELECT 1` through psycopg2 itself, past Django's query log: count it here."""
    from django.db import connection

    calls = []
    original = connection.is_usable

    def is_usable():
        started = time.perf_counter()
        try:
            return original()
        finally:
            calls.append(time.perf_counter() - started)

    connection.is_usable = is_usable
    try:
        yield calls
    finally:
        del connection.is_usable


def queries_of(app, endpoint: Endpoint) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with counting_health_checks() as checks, CaptureQueriesContext(connection) as captured:
        call(app, endpoint)
    lines = [f"  [health check] SELECT 1  ({checks[0] * 1000:.3f} ms, psycopg2 direct)" for _ in checks[:1]]
    for number, query in enumerate(captured.captured_queries, 1):
        sql = " ".join(query["sql"].split())
        if len(sql) > 600:
            sql = sql[:600] + f"… ({len(sql)} chars)"
        lines.append(f"  {number}. ({float(query['time']) * 1000:.3f} ms) {sql}")
    return lines


# What a request pays for, as cumulative time of these functions (file suffix, function name) in the profile.
# Middleware methods are their own work only (the rest of the request runs outside them).
SHARES = [
    ("whole request (WSGIHandler.__call__)", "django/core/handlers/wsgi.py", "__call__"),
    ("all SQL round trips (psycopg2 execute)", "~", "<method 'execute' of 'psycopg2.extensions.cursor' objects>"),
    ("conn health check SELECT 1 (is_usable)", "django/db/backends/postgresql/base.py", "is_usable"),
    ("request_started/finished signals (close_old_connections)", "django/db/__init__.py", "close_old_connections"),
    ("URL resolving", "django/urls/resolvers.py", "resolve"),
    ("SessionMiddleware.process_request", "django/contrib/sessions/middleware.py", "process_request"),
    ("SessionMiddleware.process_response", "django/contrib/sessions/middleware.py", "process_response"),
    ("AuthenticationMiddleware.process_request", "django/contrib/auth/middleware.py", "process_request"),
    ("MessageMiddleware.process_request", "django/contrib/messages/middleware.py", "process_request"),
    ("MessageMiddleware.process_response", "django/contrib/messages/middleware.py", "process_response"),
    ("CsrfViewMiddleware.process_request", "django/middleware/csrf.py", "process_request"),
    ("CsrfViewMiddleware.process_view", "django/middleware/csrf.py", "process_view"),
    ("CsrfViewMiddleware.process_response", "django/middleware/csrf.py", "process_response"),
    ("SecurityMiddleware.process_request", "django/middleware/security.py", "process_request"),
    ("SecurityMiddleware.process_response", "django/middleware/security.py", "process_response"),
    ("CommonMiddleware.process_request", "django/middleware/common.py", "process_request"),
    ("CommonMiddleware.process_response", "django/middleware/common.py", "process_response"),
    ("XFrameOptions.process_response", "django/middleware/clickjacking.py", "process_response"),
    ("audit: AuditMiddleware (incl. the request below it)", "audit/middleware.py", "__call__"),
    ("audit: pghistory context enter", "pghistory/runtime.py", "__enter__"),
    ("audit: pghistory context exit", "pghistory/runtime.py", "__exit__"),
    ("audit: pghistory SQL prefix (_inject_history_context)", "pghistory/runtime.py", "_inject_history_context"),
    ("audit: set_actor", "audit/context.py", "set_actor"),
    ("DRF APIView.initial (auth, permissions, throttles, negotiation)", "rest_framework/views.py", "initial"),
    ("DRF content negotiation", "rest_framework/views.py", "perform_content_negotiation"),
    ("DRF authentication (incl. key query)", "rest_framework/views.py", "perform_authentication"),
    ("key lookup (api_key_authenticate)", "merchants/selectors.py", "api_key_authenticate"),
    ("key last_used_at (api_key_mark_used)", "merchants/services.py", "api_key_mark_used"),
    ("DRF check_permissions", "rest_framework/views.py", "check_permissions"),
    ("DRF check_throttles", "rest_framework/views.py", "check_throttles"),
    ("DRF determine_version", "rest_framework/views.py", "determine_version"),
    ("DRF initialize_request", "rest_framework/views.py", "initialize_request"),
    ("DRF finalize_response", "rest_framework/views.py", "finalize_response"),
    ("DRF request body parsing (Request._parse)", "rest_framework/request.py", "_parse"),
    ("DRF rendering (Response.rendered_content)", "rest_framework/response.py", "rendered_content"),
    ("input serializer is_valid", "rest_framework/serializers.py", "is_valid"),
    ("idempotent wrapper (view work + write batch)", "api/views.py", "wrapper"),
    ("write batch send (db._execute)", "/db.py", "_execute"),
    ("ORM queryset evaluation (QuerySet._fetch_all)", "django/db/models/query.py", "_fetch_all"),
    ("SQL compile (SQLCompiler.as_sql)", "django/db/models/sql/compiler.py", "as_sql"),
    ("JSONField decode (from_db_value)", "django/db/models/fields/json.py", "from_db_value"),
    ("transaction.atomic enter", "django/db/transaction.py", "__enter__"),
    ("transaction.atomic exit", "django/db/transaction.py", "__exit__"),
    ("logging calls (logger.info etc.)", "logging/__init__.py", "info"),
]


def profile(app, endpoint: Endpoint, requests: int, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        call(app, endpoint)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = _cumulative(stats, "django/core/handlers/wsgi.py", "__call__")
    out.write(f"--- shares of the profiled request time ({total / requests * 1e6:.0f} µs per request under cProfile)\n")
    for label, path, name in SHARES:
        cum = _cumulative(stats, path, name)
        if cum:
            out.write(f"  {cum / total:6.1%}  {cum / requests * 1e6:7.0f} µs  {label}\n")
    stats.strip_dirs()
    out.write(f"--- by cumulative time ({requests} requests; times are totals)\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"--- by own time ({requests} requests)\n")
    stats.sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    return "\n".join(line for line in text.splitlines() if line.strip() and "function calls" not in line)


def _cumulative(stats: pstats.Stats, path: str, name: str) -> float:
    """Cumulative seconds of the functions named `name` in files ending with `path`, recursion counted once
    (the outermost calls: the entries' own cumulative time, which cProfile already counts once)."""
    total = 0.0
    for (filename, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if function == name and filename.endswith(path):
            total += ct
    return total


def handler_with(middleware: list[str]):
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()  # loads its middleware chain now


def ablations(middleware: list[str]) -> dict[str, list[str]]:
    audit = "audit.middleware.AuditMiddleware"
    without_session_auth_messages = [
        "bench.profile_request.AnonymousAuditMiddleware" if name == audit else name
        for name in middleware
        if not name.startswith(MIDDLEWARE_PREFIX)
    ]
    variants = {
        "production middleware (payoutsite/settings.py)": middleware,
        "- SessionMiddleware, AuthenticationMiddleware, MessageMiddleware": without_session_auth_messages,
        "- those and CsrfViewMiddleware": [n for n in without_session_auth_messages if "csrf" not in n],
        "- those, CSRF, XFrameOptions, WhiteNoise": [
            n for n in without_session_auth_messages if not any(x in n for x in ("csrf", "clickjacking", "whitenoise"))
        ],
        "- AuditMiddleware (no audit context opened)": [n for n in middleware if n != audit],
        "- RequestIdMiddleware": [n for n in middleware if not n.endswith("RequestIdMiddleware")],
        "- ChunkedBodyMiddleware": [n for n in middleware if not n.endswith("ChunkedBodyMiddleware")],
    }
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests per timing and per profile")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs; the best counts (default 3)")
    parser.add_argument("--top", type=int, default=15, help="profile entries shown (default 15)")
    parser.add_argument("--no-ablations", action="store_true")
    args = parser.parse_args()

    base.setup_django()
    data = base.seed()
    from django.conf import settings
    from django.db import connection

    app = handler_with(list(settings.MIDDLEWARE))
    production_health = connection.settings_dict["CONN_HEALTH_CHECKS"]
    payee = data["payees"][0]
    endpoints = [
        Endpoint("POST /customers", "POST", "/customers", "", data["write_key"], base.CUSTOMER_BODY.encode()),
        Endpoint("GET /customers?limit=50", "GET", "/customers", "limit=50", data["list_key"], None),
        Endpoint(
            "POST /payouts (default account, no Idempotency-Key)",
            "POST",
            "/payouts",
            "",
            data["write_key"],
            ('{"amount": "5000.00", "currency": "ARS", "customerId": "' + payee + '"}').encode(),
        ),
    ]
    report = io.StringIO()

    def say(text: str = "") -> None:
        print(text, flush=True)
        report.write(text + "\n")

    say(f"Django {__import__('django').get_version()}, Python {sys.version.split()[0]}, {args.requests} requests")
    for endpoint in endpoints:
        for _ in range(100):  # warm-up: imports, caches, the key's last_used_at (written at most once a minute)
            call(app, endpoint)
        say(f"\n=== {endpoint.label}")
        say("queries (after warm-up):")
        for line in queries_of(app, endpoint):
            say(line)
        us = per_request_us(app, endpoint, args.requests, args.repeat)
        say(f"time per request in-process: {us:.0f} µs")
        with redirect_stdout(io.StringIO()):
            text = profile(app, endpoint, args.requests, args.top)
        say(text)
        if args.no_ablations:
            continue
        say(f"ablations (µs per request, best of {args.repeat} interleaved runs of {args.requests}; vs production):")
        handlers = {
            label: handler_with(middleware) for label, middleware in ablations(list(settings.MIDDLEWARE)).items()
        }
        health_label = (
            "- conn_health_checks (no SELECT 1 per request)"
            if production_health
            else "+ conn_health_checks (a SELECT 1 per request)"
        )
        handlers[health_label] = app
        best = dict.fromkeys(handlers, float("inf"))
        for _ in range(args.repeat):  # interleaved: a noisy neighbour hits every variant alike
            for label, handler in handlers.items():
                health = production_health != (label == health_label)
                connection.settings_dict["CONN_HEALTH_CHECKS"] = health
                best[label] = min(best[label], per_request_us(handler, endpoint, args.requests, 1))
        connection.settings_dict["CONN_HEALTH_CHECKS"] = production_health
        full = best["production middleware (payoutsite/settings.py)"]
        for label, us in best.items():
            say(f"  {us:7.0f}  {us - full:+6.0f}  ({(us - full) / full:+.1%})  {label}")
    out = base.ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "profile.txt").write_text(report.getvalue())


if __name__ == "__main__":
    main()
