"""The database's ceiling for import_customers: the importer writer's own writes with no Python per row, beside
the baseline the import's target names (Django bulk_create of bare customers) and the importer, same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/import_ceiling flock /tmp/bench.lock \\
        .venv/bin/python -m bench.import_ceiling [--rows 200000] [--rounds 2] [--writers 1,2] [--no-importer]

Each round, in a rotating order, into a new merchant each time:
- bulk_create: bench.import_bench's baseline, the same code (customers alone, batches of 1,000);
- database alone, on 1 and on 2 connections at once (one thread each, same merchant, as --writers does):
  what customers.services.customers_import_batch sends for a batch of new customers with one account each,
  the batch's values generated in SQL from generate_series instead of sent by COPY (see DatabaseAlone);
- database alone, no staging tables (1 connection): the same rows inserted straight into the two tables by
  one statement, what an importer that COPYs straight into them would cost;
- import_customers itself, --writers 1 and 2 (bench.import_bench.bench_import: the command in a child
  process, from its start to its exit).
Reports rows/s per round and their median, the ratios to bulk_create, the load average, where the
database-alone batch's time goes on one connection (wall time of each statement, as its client sees it), and
CPU per row: of the database-alone writers' PostgreSQL backends (from /proc: PostgreSQL on this machine) and
of the importer's check side (reading, the API's checks, encryption, COPY text, timed in this process on up
to 20,000 rows), with the rows/s the machine's cores could give both together at best.
Results in bench/results/import_ceiling.json.
"""

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.env import configure
from bench.run import setup_django

ROOT = Path(__file__).resolve().parents[1]
configure()

# The batch's lookup (services.stored_customers_query: the same columns, the IN list of its externalIds, the
# partial index's own condition, FOR UPDATE), built and run inside PostgreSQL so it is planned as the
# writer's is, with a literal list of batch-size values. No "%" anywhere: pghistory prepends a set_config
# with parameters to every statement.
LOOKUP = """
DO $lookup$ BEGIN
EXECUTE 'SELECT "public_id", "external_id", "type", "country", "name", "email", "metadata",'
     || ' "default_bank_account_public_id", "id" FROM "customers_customer"'
     || ' WHERE (NOT "livemode" AND "merchant_id" = {merchant} AND "external_id" IN ('
     || (SELECT string_agg(quote_literal('{tag}-' || n), ', ') FROM generate_series({first}, {last}) AS n)
     || ') AND NOT ("external_id" = $q$$q$)) FOR UPDATE';
END $lookup$
"""

# What the writer's nextval and its COPY of the customers' lines put in the staging table: realistic values
# (random public ids, the bench file's names, emails, metadata), ids from the same sequence.
FILL_CUSTOMERS = """
INSERT INTO "import_customers_customer" ("id", "default_bank_account_public_id", "public_id", "merchant_id",
    "livemode", "type", "name", "email", "country", "external_id", "metadata")
SELECT nextval(pg_get_serial_sequence('customers_customer', 'id')), 'ba_' || left(md5(random()::text), 24),
       'cust_' || left(md5(random()::text), 24), %s, false, 'individual', 'Person ' || n, 'p' || n || '@example.com',
       'AR', %s || '-' || n, '{"segment": "gold"}'
  FROM generate_series(%s, %s) AS n
"""

# What the COPY of the accounts' lines puts there: one account a customer, its id the customer's default,
# one real ciphertext for all (a Fernet token of a CBU: import_customers' start-up check decrypts the newest
# account's), random 64-hex fingerprints (HMAC-SHA256).
FILL_ACCOUNTS = """
INSERT INTO "import_customers_bankaccount" ("customer_id", "public_id", "merchant_id", "livemode", "country",
    "currency", "rail", "account_type", "holder_name", "account_number_ciphertext", "account_number_key_id",
    "account_number_fingerprint", "account_number_last4", "account_kind", "entity_code", "needs_review",
    "review_reason", "metadata")
SELECT c."id", c."default_bank_account_public_id", c."merchant_id", false, 'AR', 'ARS', 'OTHER', 'savings', c."name",
       %s, %s, md5(random()::text) || md5(random()::text), lpad((c."id" %% 10000)::text, 4, '0'), 'cbu', '285',
       false, '',
       '{"cuit": "20221370075"}'
  FROM "import_customers_customer" AS c
"""

FLAG = (
    'SELECT customers_flag_shared_numbers(%s, %s, ARRAY(SELECT "account_number_fingerprint"::text'
    ' FROM "import_customers_bankaccount" ORDER BY 1), %s, %s, NULL)'
)
FLAG_DIRECT = (
    'SELECT customers_flag_shared_numbers(%s, %s, ARRAY(SELECT "account_number_fingerprint"::text'
    ' FROM "customers_bankaccount" WHERE "id" > %s AND "merchant_id" = %s ORDER BY 1), %s, %s, NULL)'
)

# Both tables in one statement, no staging (part of an experiment: the writer stages for pghistory's actor).
DIRECT = """
WITH c AS (
INSERT INTO "customers_customer" ("id", "default_bank_account_public_id", "public_id", "merchant_id", "livemode",
    "type", "name", "email", "country", "external_id", "metadata", "last_out", "created_at", "verification_status",
    "verification_reason", "verification_reviewer_id", "verification_reviewed_at")
SELECT nextval(pg_get_serial_sequence('customers_customer', 'id')), 'ba_' || left(md5(random()::text), 24),
       'cust_' || left(md5(random()::text), 24), %s, false, 'individual', 'Person ' || n, 'p' || n || '@example.com',
       'AR', %s || '-' || n, '{"segment": "gold"}', NULL, %s, 'unverified', '', NULL, NULL
  FROM generate_series(%s, %s) AS n
RETURNING "id", "default_bank_account_public_id", "merchant_id", "name")
INSERT INTO "customers_bankaccount" ("customer_id", "public_id", "merchant_id", "livemode", "country", "currency",
    "rail", "account_type", "holder_name", "account_number_ciphertext", "account_number_key_id",
    "account_number_fingerprint", "account_number_last4", "account_kind", "entity_code", "needs_review",
    "review_reason", "metadata", "status", "disabled_at", "created_at", "details_changed_at")
SELECT c."id", c."default_bank_account_public_id", c."merchant_id", false, 'AR', 'ARS', 'OTHER', 'savings', c."name",
       %s, %s, md5(random()::text) || md5(random()::text), lpad((c."id" %% 10000)::text, 4, '0'), 'cbu', '285',
       false, '',
       '{"cuit": "20221370075"}', 'active', NULL, %s, %s
  FROM c
"""


def staging_parts(model, columns: tuple[str, ...]) -> tuple[dict, list]:
    """What customers.services.importing._copy_rows formats its STAGE and STAGED_INSERT with, and the other
    columns' defaults (worked out once a batch, as it does)."""
    from django.db import connection

    fields = {f.column: f for f in model._meta.concrete_fields}
    others = [f for f in fields.values() if f.column not in columns and not f.primary_key]
    quote = connection.ops.quote_name
    parts = {
        "table": quote(model._meta.db_table),
        "staging": quote(f"import_{model._meta.db_table}"),
        "names": ", ".join(map(quote, columns)),
        "defaults": ", ".join(["%s"] * len(others)),
        "others": ", ".join(quote(f.column) for f in others),
    }
    return parts, [f.get_db_prep_save(f.get_default(), connection) for f in others]


class DatabaseAlone:
    """The importer's writers with the Python taken out: `connections` threads, each with its own connection
    and audit context, writing batches of `batch_size` new customers (one account each) for one merchant.

    A batch is one transaction, as Importer._write_once and customers_import_batch make it (BEGIN, their
    savepoint, then):
      1. the lookup of the batch's externalIds, FOR UPDATE (LOOKUP);
      2. the customers' staging table: CREATE TEMPORARY TABLE IF NOT EXISTS … ; TRUNCATE (services' STAGE);
      3. its rows: FILL_CUSTOMERS, in place of `SELECT nextval … FROM generate_series` and the COPY;
      4. INSERT INTO customers_customer … SELECT … FROM the staging table (services' STAGED_INSERT, the same
         text and defaults): its eight indexes, and the audit trigger's history rows (two more indexes);
      5–7. the same three for customers_bankaccount (FILL_ACCOUNTS in place of the COPY; ten indexes);
      8. SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED: the four foreign-key checks a row;
      9. in a savepoint (core.db.execute's), customers_flag_shared_numbers with the batch's fingerprints,
         the merchant's number gate held to commit, as review.flag_shared_numbers_imported calls it;
     10. RELEASE, COMMIT.
    And ANALYZE (services.customers_tables_analyze) when Importer._due_for_analyze would, and once at the
    end. With direct=True, steps 2–7 are one statement inserting both tables straight from generate_series.
    """

    def __init__(self, merchant, rows: int, batch_size: int, connections: int, tag: str, direct: bool = False):
        self.merchant, self.rows, self.batch_size, self.tag = merchant, rows, batch_size, tag
        self.connections, self.direct = connections, direct
        self.batches = [(first, min(first + batch_size - 1, rows)) for first in range(1, rows + 1, batch_size)]
        self.lock, self.created, self.created_when_analyzed = threading.Lock(), 0, 0
        self.statements: Counter = Counter()
        self.backend_cpu = 0.0  # seconds of CPU of the writers' PostgreSQL backends (None: not readable)
        self.failure: BaseException | None = None
        from core import crypto
        from customers.tests.factories import make_cbu

        self.ciphertext = crypto.encrypt(make_cbu())

    def __call__(self) -> float:
        from customers.services import customers_tables_analyze

        threads = [threading.Thread(target=self._writer, args=(at,)) for at in range(self.connections)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.failure is not None:
            raise self.failure
        try:
            customers_tables_analyze()  # the importer's last word
        finally:
            from django.db import connection

            connection.close()
        return time.perf_counter() - started

    def _writer(self, at: int) -> None:
        from django.db import connection

        from audit.context import actor
        from customers.services import customers_tables_analyze

        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                (backend,) = cursor.fetchone()
            cpu_before = process_cpu(backend)
            with actor("command:import_ceiling"):
                for first, last in self.batches[at :: self.connections]:
                    self._batch(first, last)
                    with self.lock:
                        self.created += last - first + 1
                        due = self.created >= max(1000, 2 * self.created_when_analyzed)
                        if due:
                            self.created_when_analyzed = self.created
                    if due:
                        self._timed("ANALYZE (doubling schedule)", customers_tables_analyze)
            cpu_after = process_cpu(backend)
            with self.lock:
                if None in (cpu_before, cpu_after, self.backend_cpu):
                    self.backend_cpu = None
                else:
                    self.backend_cpu += cpu_after - cpu_before
        except BaseException as exc:
            self.failure = exc
        finally:
            connection.close()

    def _timed(self, name: str, run, *args) -> None:
        started = time.perf_counter()
        try:
            return run(*args)
        finally:
            if self.connections == 1:
                self.statements[name] += time.perf_counter() - started

    def _batch(self, first: int, last: int) -> None:
        from django.db import connection, transaction

        from core import crypto
        from core.scope import Scope
        from customers import review
        from customers.models import BankAccount, Customer
        from customers.services.importing import (
            ACCOUNT_COPY_COLUMNS,
            CUSTOMER_COPY_COLUMNS,
            STAGE,
            STAGED_INSERT,
        )

        scope = Scope(self.merchant.pk, False)
        gate = review.number_gate(scope)
        merchant, key_id, ciphertext = self.merchant.pk, crypto.primary_key_id(), self.ciphertext
        with transaction.atomic(), transaction.atomic(), connection.cursor() as cursor:
            run = lambda name, sql, params=None: self._timed(name, cursor.execute, sql, params)  # noqa: E731
            lookup = LOOKUP.format(merchant=merchant, tag=self.tag, first=first, last=last)
            run("1 lookup by externalId, FOR UPDATE", lookup)
            if self.direct:
                customer_parts, _ = staging_parts(Customer, CUSTOMER_COPY_COLUMNS)
                account_parts, account_defaults = staging_parts(BankAccount, ACCOUNT_COPY_COLUMNS)
                now = account_defaults[-1]  # created_at and details_changed_at: the batch's second
                with connection.cursor() as max_id:
                    max_id.execute('SELECT coalesce(max("id"), 0) FROM "customers_bankaccount"')
                    (before,) = max_id.fetchone()
                params = [merchant, self.tag, now, first, last, ciphertext, key_id, now, now]
                run("2-7 both tables in one INSERT (no staging)", DIRECT, params)
            else:
                customer_parts, customer_defaults = staging_parts(Customer, CUSTOMER_COPY_COLUMNS)
                account_parts, account_defaults = staging_parts(BankAccount, ACCOUNT_COPY_COLUMNS)
                run("2 customers: staging table (CREATE IF NOT EXISTS, TRUNCATE)", STAGE.format(**customer_parts))
                run(
                    "3 customers: fill staging (nextval + COPY's part)",
                    FILL_CUSTOMERS,
                    [merchant, self.tag, first, last],
                )
                run(
                    "4 INSERT customers_customer … SELECT staging",
                    STAGED_INSERT.format(**customer_parts),
                    customer_defaults,
                )
                run("5 accounts: staging table (CREATE IF NOT EXISTS, TRUNCATE)", STAGE.format(**account_parts))
                run("6 accounts: fill staging (COPY's part)", FILL_ACCOUNTS, [ciphertext, key_id])
                run(
                    "7 INSERT customers_bankaccount … SELECT staging",
                    STAGED_INSERT.format(**account_parts),
                    account_defaults,
                )
            run(
                "8 SET CONSTRAINTS ALL IMMEDIATE (foreign keys)",
                "SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED",
            )
            reason = review.SHARED_NUMBER_REASON
            with transaction.atomic():
                if self.direct:
                    params = [merchant, False, before, merchant, reason, gate]
                    run("9 customers_flag_shared_numbers", FLAG_DIRECT, params)
                else:
                    run("9 customers_flag_shared_numbers", FLAG, [merchant, False, reason, gate])
            self._commit_timer = time.perf_counter()
        if self.connections == 1:
            self.statements["10 RELEASE, COMMIT"] += time.perf_counter() - self._commit_timer


def process_cpu(pid: int) -> float | None:
    """Seconds of CPU (user + system) a process of this machine has used, or None if it cannot be read
    (PostgreSQL on another host, or another user's process)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_side_cpu(path: Path, merchant, rows: int) -> float:
    """CPU seconds per row of the importer's worker processes' part, in this process: reading the file,
    the API's checks, encryption and fingerprints, the COPY text (customers.importer.check_chunk)."""
    from core.scope import Scope
    from customers.importer import CountingReader, _chunks, check_chunk
    from customers.importing import RowChecker, read_rows

    checker, scope, done = RowChecker(), Scope(merchant.pk, False), 0
    started = time.process_time()
    with path.open("rb") as raw:
        source = CountingReader(raw)
        for chunk, position in _chunks(read_rows(source, fmt="csv"), source, 1000):
            checked = check_chunk(checker, scope, chunk, position)
            assert not checked.failed
            done += checked.read
            if done >= rows:
                break
    return (time.process_time() - started) / done


def table_rows() -> dict[str, int]:
    """The tables' sizes (all merchants; the planner's estimate): their indexes' depth and what ANALYZE
    samples grow with them, so a run into a bigger database is slower."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, greatest(reltuples, 0)::bigint FROM pg_class"
            " WHERE relname IN ('customers_customer', 'customers_bankaccount') ORDER BY relname"
        )
        return dict(cursor.fetchall())


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, help="Default: the importer's own default.")
    parser.add_argument("--writers", default="1,2", help="Connections / --writers values, comma-separated.")
    parser.add_argument("--no-importer", action="store_true", help="Skip import_customers itself.")
    parser.add_argument("--no-direct", action="store_true", help="Skip the no-staging experiment.")
    args = parser.parse_args()
    if not 1_000 <= args.rows <= 1_000_000:
        parser.error("--rows must be 1,000 to 1,000,000")
    setup_django()
    from bench.import_bench import bench_bulk_create, bench_import, new_merchant, write_file
    from customers.importer import DEFAULT_BATCH_SIZE

    batch_size = args.batch_size or DEFAULT_BATCH_SIZE
    writers = [int(value) for value in args.writers.split(",")]
    kinds = ["bulk_create", *(f"db_alone_c{w}" for w in writers)]
    kinds += [] if args.no_direct else ["db_alone_no_staging_c1"]
    kinds += [] if args.no_importer else [f"import_w{w}" for w in writers]
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    profile: Counter = Counter()
    backend_cpu: dict[str, list[float]] = {}
    check_cpu: list[float] = []
    report: dict = {"rows": args.rows, "batch_size": batch_size, "rounds": [], "load_average_before": load_average()}
    report["table_rows_before"] = table_rows()
    print(f"{args.rows:,} rows, batches of {batch_size:,}; load average (1, 5, 15 min) {report['load_average_before']}")
    print("rows already in the tables (all merchants, planner's estimate):", report["table_rows_before"])
    with tempfile.TemporaryDirectory() as folder:
        for round_no in range(args.rounds):
            tag = f"c{time.time_ns()}"
            path = Path(folder) / f"round{round_no}.csv"
            write_file(path, args.rows, tag)
            order = kinds[round_no % len(kinds) :] + kinds[: round_no % len(kinds)]
            figures = {}
            for kind in order:
                merchant = new_merchant(f"ceiling-{kind}-{tag}")
                if kind == "bulk_create":
                    seconds = bench_bulk_create(path, merchant)
                elif kind.startswith("db_alone"):
                    connections = int(kind[-1])
                    run = DatabaseAlone(
                        merchant, args.rows, batch_size, connections, uuid.uuid4().hex[:12], "no_staging" in kind
                    )
                    seconds = run()
                    if kind == "db_alone_c1":
                        profile.update(run.statements)
                    if run.backend_cpu is not None:
                        backend_cpu.setdefault(kind, []).append(run.backend_cpu / args.rows)
                else:
                    seconds, rss, pss = bench_import(path, merchant, batch_size, int(kind[-1]))
                    figures[f"{kind}_peak_rss_sum_mb"], figures[f"{kind}_peak_pss_sum_mb"] = rss, pss
                rates[kind].append(args.rows / seconds)
                figures[kind] = args.rows / seconds
                print(f"  round {round_no + 1} {kind:24} {args.rows / seconds:10,.0f} rows/s  (load {load_average()})")
            check_cpu.append(check_side_cpu(path, new_merchant(f"ceiling-check-{tag}"), min(args.rows, 20_000)))
            figures["check_side_cpu_us_per_row"] = check_cpu[-1] * 1e6
            report["rounds"].append(figures)
    report["load_average_after"] = load_average()
    median = {kind: statistics.median(values) for kind, values in rates.items()}
    report["median_rows_per_s"] = median
    bulk = median["bulk_create"]
    report["vs_bulk_create"] = {kind: rate / bulk for kind, rate in median.items()}
    report["target_rows_per_s"] = 1.2 * bulk
    rounds = len(rates["db_alone_c1"])
    report["db_alone_c1_us_per_row"] = {
        name: seconds / (args.rows * rounds) * 1e6 for name, seconds in sorted(profile.items())
    }
    print(f"median of {args.rounds} rounds (rows/s, × bulk_create):")
    for kind, rate in median.items():
        print(f"  {kind:24} {rate:10,.0f}  {rate / bulk:5.2f}×")
    print(f"  target: 1.2 × bulk_create = {1.2 * bulk:,.0f} rows/s")
    print("database alone, 1 connection: µs per row by statement (wall, as the client sees it)")
    for name, micros in report["db_alone_c1_us_per_row"].items():
        print(f"  {name:62} {micros:7.1f}")
    print(f"  {'all':62} {sum(report['db_alone_c1_us_per_row'].values()):7.1f}")
    report["check_side_cpu_us_per_row"] = statistics.median(check_cpu) * 1e6
    report["postgres_cpu_us_per_row"] = {kind: statistics.median(v) * 1e6 for kind, v in backend_cpu.items()}
    print(f"CPU per row (median over rounds): check side {report['check_side_cpu_us_per_row']:.1f} µs", end="")
    for kind, micros in report["postgres_cpu_us_per_row"].items():
        print(f", PostgreSQL backends in {kind} {micros:.1f} µs", end="")
    print()
    cores = os.cpu_count() or 1
    if "db_alone_c1" in report["postgres_cpu_us_per_row"]:
        floor = report["postgres_cpu_us_per_row"]["db_alone_c1"] + report["check_side_cpu_us_per_row"]
        report["cpu_bound_rows_per_s"] = cores * 1e6 / floor
        print(
            f"CPU bound: {cores} cores / ({floor:.1f} µs a row) = {cores * 1e6 / floor:,.0f} rows/s"
            f" = {cores * 1e6 / floor / bulk:.2f}× bulk_create, with no Python in the writer at all"
        )
    print(f"load average before {report['load_average_before']}, after {report['load_average_after']}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "import_ceiling.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
