"""The back-office at a million rows: load the data set with SQL, then time every back-office page.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/issue16_bench
    flock /tmp/bench.lock .venv/bin/python -m bench.backoffice load        # ~1M customers, accounts, payouts
    flock /tmp/bench.lock .venv/bin/python -m bench.backoffice run [--tree OTHER_CHECKOUT] [--explain]
    .venv/bin/python -m bench.backoffice explain-all /admin/compliance/assignment/   # every query's plan

`load` migrates, then writes 1,000,000 customers (one bank account each, each the customer's default) and
1,000,000 payouts with INSERT … SELECT, audit triggers on (so each gets its history row), then VACUUM
ANALYZE. `run` serves the tree (this one, or --tree: another checkout, e.g. the code before a change) with
gunicorn (production settings, 2 workers), logs in through the admin's login form, and requests every page
--samples times after a warm-up, one at a time: median and worst per page. --explain prints, for each page
over 300 ms, the EXPLAIN ANALYZE of that page's slowest query (the page rendered in-process, its queries
captured). The CSV export is timed once, read to its end, and checked complete (HTTP chunked terminator).
"""

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.env import configure

ROOT = Path(__file__).resolve().parents[1]
SIZE = int(os.environ.get("BENCH_BO_ROWS", "1000000"))
MERCHANTS = 4
SETTINGS = "bench.backoffice_settings"
USER, PASSWORD = "bench-admin", "bench-admin-password-0123"

# Searches that find one row (or a few): their values follow from the generated data (see LOAD_SQL).
G = SIZE * 424 // 1000  # the row searched for


def cust_id(g: int) -> str:
    return "cust_" + _md5(f"{g}c")[:24]


def ba_id(g: int) -> str:
    return "ba_" + _md5(f"{g}b")[:24]


def po_id(g: int) -> str:
    return "po_" + _md5(f"{g}p")[:24]


def account_number(g: int) -> str:
    return "28505909" + f"{g * 104729 % 9_999_999_999_999:013d}" + str(g % 10)


def cuit(g: int) -> str:
    return f"20{g:08d}{g % 10}"


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - ids for generated rows, not security


LOAD_SQL = """
CREATE EXTENSION IF NOT EXISTS pgcrypto;
INSERT INTO merchants_merchant (public_id, name, created_at)
SELECT 'mer_' || left(md5(m || 'm'), 24), 'bench-bo-' || m, now() FROM generate_series(1, {merchants}) m
WHERE NOT EXISTS (SELECT FROM merchants_merchant WHERE name LIKE 'bench-bo-%%');
CREATE TEMP TABLE bench_g AS
SELECT g,
       (SELECT min(id) FROM merchants_merchant WHERE name LIKE 'bench-bo-%%') + g %% {merchants} AS merchant_id,
       g %% 10 = 0 AS livemode,
       '28505909' || lpad((g::bigint * 104729 %% 9999999999999)::text, 13, '0') || (g %% 10)::text AS number,
       now() - (({size} - g) * interval '1 minute') AS created_at
FROM generate_series(1, {size}) g;
-- customers
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO customers_customer (public_id, merchant_id, livemode, type, name, email, country, metadata,
    external_id, last_out, default_bank_account_public_id, created_at, verification_status, verification_reason)
SELECT 'cust_' || left(md5(g || 'c'), 24), merchant_id, livemode,
       CASE WHEN g %% 10 < 7 THEN 'individual' ELSE 'business' END,
       (ARRAY['María','Juan','Lucía','Carlos','Sofía','Diego','Valentina','Martín','Camila','Javier',
              'Florencia','Pablo','Agustina','Nicolás','Julieta','Federico','Micaela','Santiago','Paula','Tomás'])
           [1 + g %% 20] || ' ' ||
       (ARRAY['González','Rodríguez','Gómez','Fernández','López','Díaz','Martínez','Pérez','García','Sánchez',
              'Romero','Sosa','Álvarez','Torres','Ruiz','Ramírez','Flores','Acosta','Benítez','Medina',
              'Suárez','Herrera','Aguirre','Pereyra','Gutiérrez','Giménez','Molina','Silva','Castro','Rojas',
              'Ortiz','Núñez','Luna','Juárez','Cabrera','Ríos','Ferreyra','Godoy','Morales','Domínguez',
              'Moreno','Peralta','Vega','Carrizo','Quiroga','Castillo','Ledesma','Muñoz','Ojeda','Ponce'])
           [1 + (g / 20) %% 50] || ' ' || to_hex(g * 7),
       'c' || g || '@example.com',
       CASE WHEN g %% 50 = 0 THEN 'UY' WHEN g %% 70 = 0 THEN 'BR' ELSE 'AR' END,
       jsonb_build_object('segment', 's' || g %% 7),
       'ext-' || g,
       CASE WHEN g %% 5 < 3 THEN created_at + ((g %% 300) * interval '1 day') END,
       'ba_' || left(md5(g || 'b'), 24),
       created_at,
       CASE WHEN g %% 20 < 3 THEN 'verified' WHEN g %% 20 = 3 THEN 'rejected' ELSE 'unverified' END,
       ''
FROM bench_g;
INSERT INTO customers_bankaccount (public_id, customer_id, merchant_id, livemode, country, currency, rail,
    account_type, holder_name, account_number_ciphertext, account_number_key_id, account_number_fingerprint,
    account_number_last4, account_kind, entity_code, status, needs_review, review_reason, metadata, created_at,
    details_changed_at)
SELECT 'ba_' || left(md5(g || 'b'), 24), c.id, b.merchant_id, b.livemode, 'AR', 'ARS', 'OTHER',
       CASE WHEN g %% 2 = 0 THEN 'savings' ELSE 'checking' END, c.name, %(ciphertext)s, %(key_id)s,
       encode(hmac(number, %(fingerprint_key)s, 'sha256'), 'hex'), right(number, 4),
       CASE WHEN g %% 10 = 9 THEN 'cvu' ELSE 'cbu' END, '285',
       CASE WHEN g %% 50 = 7 THEN 'disabled' ELSE 'active' END,
       g %% 100 = 3, CASE WHEN g %% 100 = 3 THEN 'shared number' ELSE '' END,
       jsonb_build_object(CASE WHEN g %% 10 < 7 THEN 'cuil' ELSE 'cuit' END,
                          '20' || lpad(g::text, 8, '0') || (g %% 10)::text),
       b.created_at, b.created_at
FROM bench_g b JOIN customers_customer c ON c.public_id = 'cust_' || left(md5(g || 'c'), 24);
COMMIT;
-- payouts
INSERT INTO payouts_payout (public_id, merchant_id, livemode, customer_public_id, bank_account_public_id, amount,
    currency, destination_ciphertext, destination_key_id, destination_fingerprint, destination_last4, description,
    metadata, status, failure_code, failure_message, created_at, updated_at, hold_reasons)
SELECT 'po_' || left(md5(g || 'p'), 24), merchant_id, livemode, 'cust_' || left(md5(g || 'c'), 24),
       'ba_' || left(md5(g || 'b'), 24), round((100 + (g::bigint * 7919) %% 2000000)::numeric, 2), 'ARS',
       %(ciphertext)s, %(key_id)s, encode(hmac(number, %(fingerprint_key)s, 'sha256'), 'hex'), right(number, 4),
       '', '{{}}',
       CASE WHEN g %% 1000 = 5 THEN 'held'
            WHEN g %% 100 < 85 THEN 'paid' WHEN g %% 100 < 93 THEN 'failed' WHEN g %% 100 < 96 THEN 'canceled'
            WHEN g %% 100 < 99 THEN 'pending' ELSE 'processing' END,
       CASE WHEN g %% 100 BETWEEN 85 AND 92 THEN (ARRAY['account_closed','invalid_account','bank_rejected',
            'customer_rejected'])[1 + g %% 4] ELSE '' END,
       '', created_at, created_at,
       -- one payout in a thousand waits for compliance (the review queue)
       CASE WHEN g %% 1000 = 5 THEN ARRAY[(ARRAY['amount_over_threshold', 'customer_unverified',
            'velocity_exceeded'])[1 + g %% 3]]::varchar[] ELSE '{{}}' END
FROM bench_g;
"""


def pages() -> list[tuple[str, str]]:
    """(name, path) of every page timed; "LAST:<list>" is the last page of that list, found from its links."""
    customers, accounts = "/admin/customers/customer/", "/admin/customers/bankaccount/"
    payouts = "/admin/payouts/payout/"
    history = "/admin/customers/customerhistory/"
    queue = "/admin/compliance/assignment/"
    return [
        ("customers, page 1", customers),
        ("customers, page 2", "NEXT:" + customers),
        ("customers, last page", "LAST:" + customers),
        ("customers, sorted by name", customers + "?o=2"),
        ("customers, sorted by name, page 2", "NEXT:" + customers + "?o=2"),
        ("customers, verified", customers + "?verification_status__exact=verified"),
        ("customers, country UY", customers + "?country__exact=UY"),
        ("customers, type business", customers + "?type__exact=business"),
        ("customers, needs review", customers + "?needs_review=yes"),
        ("customers, not paid for N days", customers + "?unpaid=stale"),
        ("customers, created past 7 days", customers + "?created_at__gte=PAST7"),
        ("customers, search cust_ id", customers + "?q=" + cust_id(G)),
        ("customers, search CUIT", customers + "?q=" + cuit(G)),
        ("customers, search email", customers + f"?q=c{G}%40example.com"),
        ("customers, search name fragment", customers + "?q=ferreyra"),
        ("customers, search common fragment", customers + "?q=mar"),
        ("customers, search rare name fragment", customers + "?q=" + format(G * 7, "x")),
        ("customers, search last4", customers + "?q=" + account_number(G)[-4:]),
        ("customers, search full number", customers + "?q=" + account_number(G)),
        ("customers, Show counts", customers + "?_facets=True"),
        ("bank accounts, page 1", accounts),
        ("bank accounts, last page", "LAST:" + accounts),
        ("bank accounts, needs review", accounts + "?needs_review__exact=1"),
        ("bank accounts, disabled", accounts + "?status__exact=disabled"),
        ("bank accounts, CVU", accounts + "?account_kind__exact=cvu"),
        ("bank accounts, search ba_ id", accounts + "?q=" + ba_id(G)),
        ("bank accounts, search last4", accounts + "?q=" + account_number(G)[-4:]),
        ("bank accounts, search CUIT", accounts + "?q=" + cuit(G)),
        ("bank accounts, search full number", accounts + "?q=" + account_number(G)),
        ("payouts, page 1", payouts),
        ("payouts, last page", "LAST:" + payouts),
        ("payouts, failed", payouts + "?status__exact=failed"),
        ("payouts, processing", payouts + "?status__exact=processing"),
        ("payouts, failure code", payouts + "?failure_code__exact=bank_rejected"),
        ("payouts, amount 1m+", payouts + "?amount=gte1m"),
        ("payouts, search po_ id", payouts + "?q=" + po_id(G)),
        ("payouts, search cust_ id", payouts + "?q=" + cust_id(G)),
        ("payouts, search last4", payouts + "?q=" + account_number(G)[-4:]),
        ("customer history, page 1", history),
        ("customer history, last page", "LAST:" + history),
        ("customer history, creates", history + "?pgh_label__exact=create"),
        ("customer history, search id", history + "?q=" + cust_id(G)),
        ("customer history, search actor (none)", history + "?q=staff%3Anobody"),
        ("bank account history, page 1", "/admin/customers/bankaccounthistory/"),
        ("payout history, page 1", "/admin/payouts/payouthistory/"),
        ("customer page", "CHANGE:" + customers),
        ("review queue, page 1", queue),
        ("review queue, page 2", "NEXT:" + queue),
        ("review queue, reason velocity", queue + "?reason=velocity_exceeded"),
        ("review queue, reason flagged account", queue + "?reason=account_flagged"),
        ("review queue, one merchant", queue + "?merchant=MERCHANT"),
        ("review queue, assigned to me", queue + "?mine=1"),
        ("review queue, held payout item", "ITEM:" + queue),
    ]


class Browser:
    """A logged-in admin session over one HTTP/1.1 connection (what a browser tab keeps)."""

    def __init__(self, base: str):
        self.host, self.port = urlsplit(base).hostname, urlsplit(base).port
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, float]:
        """One request; a dropped connection (status 0) is reported once, logged, and retried once."""
        status, text, elapsed = self._request(method, path, body)
        if status == 0:
            print(f"  (connection lost on {path}: retried)", flush=True)
            status, text, elapsed = self._request(method, path, body)
        return status, text, elapsed

    def _request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Host": "127.0.0.1"}
        if body is not None:
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://127.0.0.1{path}"}
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            text = response.read().decode(errors="replace")
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
            return 0, "", time.perf_counter() - started
        elapsed = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";")[0]
        return response.status, text, elapsed

    def login(self) -> None:
        from urllib.parse import urlencode

        _, text, _ = self.request("GET", "/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text).group(1)
        form = urlencode({"csrfmiddlewaretoken": token, "username": USER, "password": PASSWORD, "next": "/admin/"})
        status, _, _ = self.request("POST", "/admin/login/?next=/admin/", form)
        if status != 302:
            sys.exit(f"login failed: {status}")


def resolve(browser: Browser, path: str) -> str:
    """NEXT:/LAST:/CHANGE: paths become the list's own link (page numbers, or keyset links)."""
    kind, _, base = path.partition(":") if path[:1] != "/" else ("", "", path)
    if not kind:
        if "MERCHANT" in path:  # the queue's merchant filter: the first merchant it offers
            _, text, _ = browser.request("GET", path.split("?")[0])
            path = path.replace("MERCHANT", re.search(r'name="merchant".*?<option value="(\d+)"', text, re.S).group(1))
        return path.replace("PAST7", time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86400)))
    _, text, _ = browser.request("GET", base)
    base = base.split("?")[0]
    if kind == "CHANGE":
        return base + re.search(r'href="/admin/customers/customer/(\d+)/change/', text).group(1) + "/change/"
    if kind == "ITEM":
        return re.search(r'href="(/admin/compliance/assignment/payout/\d+/)"', text).group(1)
    links = re.findall(r'<a[^>]*href="(\?[^"]*)"[^>]*>([^<]*)</a>', text)
    if kind == "NEXT":
        for href, label in links:
            if label.strip() in ("2", "Older ›", "Next"):
                return base + href.replace("&amp;", "&")
    if kind == "LAST":
        for href, label in links:
            if label.strip() in ("Last »", "Last"):
                return base + href.replace("&amp;", "&")
        numbered = [(int(label), href) for href, label in links if label.strip().isdigit()]
        if numbered:
            return base + max(numbered)[1].replace("&amp;", "&")
    sys.exit(f"no {kind} link on {base}")


def cancel_leftovers(database_url: str) -> int:
    """Statements still running in the bench database once a page has answered (the browser waits for each
    answer, so any is a query its request left behind, e.g. when gunicorn killed the worker): cancelled, so
    they do not slow the pages after, and counted."""
    import psycopg2

    with psycopg2.connect(database_url) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


def export_check(browser: Browser, path: str) -> tuple[str, float, int]:
    """GET the export over raw HTTP/1.1: complete only when the chunked body ends with its terminator."""
    sock = http.client.HTTPConnection(browser.host, browser.port, timeout=300)
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    started = time.perf_counter()
    sock.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
    response = sock.getresponse()
    size = 0
    try:
        while chunk := response.read(1 << 20):
            size += len(chunk)
        outcome = f"complete ({response.status})"
    except http.client.IncompleteRead as error:
        size += len(error.partial)
        outcome = "CUT OFF (no chunked terminator: the client sees a failed download)"
    except (OSError, http.client.HTTPException) as error:
        outcome = f"CUT OFF ({type(error).__name__})"
    return outcome, time.perf_counter() - started, size


def load() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from core import crypto

    call_command("migrate", verbosity=0)
    params = {
        "ciphertext": crypto.encrypt(account_number(1)),
        "key_id": crypto.primary_key_id(),
        "fingerprint_key": settings.ACCOUNT_FINGERPRINT_KEY,
    }
    prepare, customers, payouts = re.split(r"-- \w+\n", LOAD_SQL.format(size=SIZE, merchants=MERCHANTS))
    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute(prepare, params)
        for table, statement in (("customers_customer", customers), ("payouts_payout", payouts)):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our table names
            if cursor.fetchone()[0] < SIZE:
                cursor.execute(statement, params)
                print(f"{table}: loaded at {time.monotonic() - started:.0f} s", flush=True)
        connection.connection.autocommit = True
        cursor.execute("VACUUM ANALYZE")
    user_model = get_user_model()
    if not user_model.objects.filter(username=USER).exists():
        user_model.objects.create_superuser(USER, "bench@example.com", PASSWORD)


def explain(paths: list[str], every: bool = False) -> None:
    """In-process (the tree's code): each page's slowest query (every: each of its queries), run again under
    EXPLAIN ANALYZE."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=USER))
    for path in paths:
        with CaptureQueriesContext(connection) as captured:
            try:
                client.get(path)
            except Exception as error:  # a page that fails here is reported, not fatal
                print(f"{path}: {type(error).__name__}: {error}")
        if not captured.captured_queries:
            continue
        queries = captured.captured_queries
        chosen = queries if every else [max(queries, key=lambda q: float(q["time"]))]
        total = sum(float(q["time"]) for q in queries) * 1000
        print(f"\n### {path}\n{len(captured)} queries, {total:.1f} ms in the database")
        for query in chosen:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            print(f"\n-- {float(query['time']) * 1000:.1f} ms\n{query['sql'][:1500]}")
            with connection.cursor() as cursor:
                try:
                    cursor.execute("SET statement_timeout = '60s'")
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query["sql"])
                    print("\n".join(row[0] for row in cursor.fetchall()))
                except Exception as error:
                    print(f"(EXPLAIN failed: {error})")


def run(args) -> None:
    from bench.run import free_port, start_server

    tree = Path(args.tree).resolve() if args.tree else ROOT
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(tree)}
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS  # bench.run's import sets its own
    manage = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    subprocess.run(manage, cwd=tree, env=env, check=True)
    server = start_server("payoutsite.wsgi", port, args.workers, env, tree=tree)
    results: list[tuple[str, str, float, float, int, int]] = []
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        browser.login()
        chosen = [(name, path) for name, path in pages() if not args.only or args.only in name]
        for name, path in chosen:
            url = resolve(browser, path)
            status, _, warmup = browser.request("GET", url)
            times = []
            # A page slower than 3 s is timed twice, not --samples times: the run stays a few minutes long.
            for _ in range(args.samples if warmup < 3 else 2):
                status, _, elapsed = browser.request("GET", url)
                times.append(elapsed)
            leftovers = cancel_leftovers(os.environ["DATABASE_URL"])
            results.append((name, url, statistics.median(times), max(times), status, leftovers))
            print(f"{name:<40} {statistics.median(times) * 1000:>8.0f} ms  max {max(times) * 1000:>7.0f}  {status}")
        if not args.only or "export" in args.only:
            outcome, elapsed, size = export_check(browser, "/admin/customers/customer/export/")
            print(f"{'CSV export of all customers':<40} {elapsed:>8.1f} s   {size / 1e6:.0f} MB  {outcome}")
    finally:
        server.terminate()
        server.wait()
    print("\n| page | median ms | max ms | status | queries left running |\n|---|---:|---:|---|---:|")
    for name, _, median, worst, status, leftovers in results:
        print(f"| {name} | {median * 1000:.0f} | {worst * 1000:.0f} | {status} | {leftovers} |")
    slow = [url for _, url, median, _, _, _ in results if median > 0.3]
    if args.explain and slow:
        env["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
        command = [sys.executable, "-m", "bench.backoffice", "explain", *slow]
        subprocess.run(command, cwd=tree, env=env, check=False)


def main() -> None:
    configure()
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["load", "run", "explain", "explain-all"])
    parser.add_argument("paths", nargs="*", help="explain: the pages")
    parser.add_argument("--tree", help="serve this checkout instead (e.g. the code before a change)")
    parser.add_argument("--samples", type=int, default=5, help="timed requests per page (default 5)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest query of slow pages")
    args = parser.parse_args()
    if "issue16_" not in os.environ.get("DATABASE_URL", "") and args.command == "load":
        sys.exit("load writes a million rows: DATABASE_URL must name a bench database (…/issue16_…)")
    commands = {
        "load": load,
        "run": lambda: run(args),
        "explain": lambda: explain(args.paths),
        "explain-all": lambda: explain(args.paths, every=True),
    }
    commands[args.command]()


if __name__ == "__main__":
    main()
