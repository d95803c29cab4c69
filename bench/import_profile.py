"""Where an imported row's time goes: the importer's stages run one after another in this process (no worker
processes, one writer), each timed; the writer's statements timed one by one.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench .venv/bin/python -m bench.import_profile
        [--rows 50000] [--batch-size 5000] [--existing 0]

Reports µs per row: reading the file; checking and preparing the rows (the worker processes' part), with
cProfile's heaviest functions on a sample; the writer's Python (its thread's CPU time outside the driver's
calls); and each kind of statement the writer sends, COPY and COMMIT included (wall time: PostgreSQL's work
and a round trip; a COMMIT runs the deferred foreign-key checks). --existing loads that many customers into
the merchant first (bench.import_bench.load_existing).
"""

import argparse
import cProfile
import io
import pstats
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.env import configure
from bench.run import setup_django

configure()


def label(statement: str) -> str:
    text = re.sub(r"SELECT set_config\('pghistory.context_id'.*?true\); ", "", statement.strip(), flags=re.S)
    if "customers_flag_shared_numbers" in text:
        return "SELECT customers_flag_shared_numbers (flag shared numbers)"
    if text.startswith("SET CONSTRAINTS ALL IMMEDIATE"):
        return "SET CONSTRAINTS ALL IMMEDIATE (deferred foreign keys)"
    if "nextval" in text:
        return "SELECT nextval (new customer ids)"
    if text.startswith("SELECT") and '"external_id" IN' in text:
        return "SELECT customers by externalId, FOR UPDATE"
    if text.startswith("SELECT") and "customers_bankaccount" in text:
        return "SELECT accounts of stored customers"
    table = re.search(r'(?:INTO|UPDATE|TABLE IF NOT EXISTS|ANALYZE)\s+"?(\w+)', text)
    return f"{text.split()[0]} {table.group(1) if table else ''}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--existing", type=int, default=0)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from audit.context import actor
    from bench.import_bench import load_existing, new_merchant, write_file
    from core import db
    from core.scope import Scope
    from customers import services
    from customers.importing import RowChecker, read_rows

    merchant = new_merchant(f"bench-profile-{time.time():.0f}")
    if args.existing:
        load_existing(merchant, args.existing)
    scope, checker, rows = Scope(merchant.pk, False), RowChecker(), args.rows
    prepare = getattr(services, "import_row_prepare", None)  # absent before issue 15: the writer took CheckedRows
    timings: Counter = Counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "profile.csv"
        write_file(path, rows, f"prof{time.time():.0f}")
        started = time.perf_counter()
        with path.open("rb") as source:
            records = list(read_rows(source, fmt="csv"))
        timings["read the file (csv, Row dicts)"] = time.perf_counter() - started

    sample = cProfile.Profile()
    sample.enable()
    for record in records[:5000]:
        checker.check(record)
    sample.disable()
    started = time.perf_counter()
    checked = [checker.check(record) for record in records]
    timings["check (API fields), encrypt, fingerprint"] = time.perf_counter() - started
    if prepare is not None:
        started = time.perf_counter()
        checked = [prepare(scope, row) for row in checked]
        timings["prepare (COPY text)"] = time.perf_counter() - started

    statements: Counter = Counter()

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements[label(sql)] += time.perf_counter() - started

    real_copy_in, real_commit = db.copy_in, connection.commit

    def copy_in(cursor, statement, data, **kwargs):
        started = time.perf_counter()
        try:
            return real_copy_in(cursor, statement, data, **kwargs)
        finally:
            statements[f"COPY {statement.split()[1]}"] += time.perf_counter() - started

    def commit():
        started = time.perf_counter()
        try:
            return real_commit()
        finally:
            statements["COMMIT (deferred foreign keys)"] += time.perf_counter() - started

    db.copy_in, connection.commit = copy_in, commit
    cpu = wall = 0.0
    try:
        with actor("command:bench"), connection.execute_wrapper(timed):
            for at in range(0, rows, args.batch_size):
                batch = checked[at : at + args.batch_size]
                started, started_cpu = time.perf_counter(), time.thread_time()
                services.customers_import_batch(scope=scope, rows=batch)
                wall += time.perf_counter() - started
                cpu += time.thread_time() - started_cpu
    finally:
        db.copy_in, connection.commit = real_copy_in, real_commit
    in_database = sum(statements.values())

    def line(name: str, seconds: float) -> None:
        print(f"  {name:58} {seconds / rows * 1e6:8.1f} µs/row")

    print(f"{rows:,} rows, batches of {args.batch_size:,}, merchant with {args.existing:,} customers before")
    print("check side (worker processes):")
    for name, seconds in timings.items():
        line(name, seconds)
    print("writer (one connection):")
    line("wall, whole batch", wall)
    line("Python and driver (writer thread CPU)", cpu)
    line("waiting on PostgreSQL (wall - CPU)", wall - cpu)
    print("  statements (wall, each includes its driver time):")
    for name, seconds in statements.most_common():
        line(f"  {name}", seconds)
    line("  all statements", in_database)
    out = io.StringIO()
    pstats.Stats(sample, stream=out).sort_stats("tottime").print_stats(12)
    print("check side, cProfile of 5,000 rows, by own time:")
    print("\n".join(out.getvalue().splitlines()[6:]))


if __name__ == "__main__":
    main()
