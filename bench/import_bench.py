"""Import benchmark: import_customers against PostgreSQL COPY and Django bulk_create of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench .venv/bin/python -m bench.import_bench
        [--rows 1000000] [--batch-size 5000] [--writers 1,2] [--existing 1000000] [--sides]

Writes CSVs of ROWS customers, each with one bank account, then in the same run:
- COPY of the file into a bare table (the file's columns as text, no index, no constraint): the floor;
- Django bulk_create of the customers alone (no accounts, no validation), batches of 1000;
- `manage.py import_customers` on the file, in a child process, once per --writers value into an empty
  merchant, then again into a merchant that already has EXISTING customers with an account each (loaded
  with SQL, triggers off), to show whether the speed depends on the table's size;
- the importer's peak memory, all its processes together (the command and its worker processes, sampled:
  RSS summed, an upper bound, and PSS summed), on the full file and on a tenth of it (does it grow?);
- with --sides, the importer's two halves timed apart in this process: checking and preparing rows
  alone, and writing them alone (the write side bounds any importer that keeps this schema).
Reports rows/s for each and the importer's ratios; results in bench/results/import.json.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.env import configure
from bench.run import setup_django

ROOT = Path(__file__).resolve().parents[1]
configure()

COLUMNS = "externalId,type,name,email,country,metadata.segment,accountNumber,accountType,holderName,bankMetadata.cuit"


def write_file(path: Path, rows: int, tag: str) -> None:
    from customers.tests.factories import make_cbu

    with path.open("w") as out:
        out.write(COLUMNS + "\n")
        for i in range(rows):
            number = make_cbu(account=f"{i:013d}")
            out.write(
                f"{tag}-{i},individual,Person {i},p{i}@example.com,AR,gold,{number},savings,Person {i},20221370075\n"
            )


def new_merchant(name: str):
    from merchants.models import Merchant

    return Merchant.objects.create(name=name)


def load_existing(merchant, rows: int) -> float:
    """rows customers with one account each for merchant, in SQL (no audit rows: triggers off), fast. One
    real ciphertext for them all (the start-up check decrypts the newest), distinct fingerprints."""
    from django.db import connection

    from core import crypto
    from customers.tests.factories import make_cbu

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            """INSERT INTO customers_customer (public_id, merchant_id, livemode, type, name, email, country, metadata,
                   external_id, created_at, verification_status, verification_reason, default_bank_account_public_id)
               SELECT 'cust_old' || %s || 'x' || n, %s, false, 'individual', 'Person ' || n, 'p' || n || '@example.com',
                      'AR', '{"segment": "gold"}', 'old-' || n, now(), 'unverified', '', 'ba_old' || %s || 'x' || n
                 FROM generate_series(1, %s) AS n""",
            [merchant.pk, merchant.pk, merchant.pk, rows],
        )
        cursor.execute(
            """INSERT INTO customers_bankaccount (public_id, customer_id, merchant_id, livemode, country, currency,
                   rail, account_type, holder_name, account_number_ciphertext, account_number_key_id,
                   account_number_fingerprint, account_number_last4, account_kind, entity_code, status, needs_review,
                   review_reason, metadata, created_at, details_changed_at)
               SELECT c.default_bank_account_public_id, c.id, c.merchant_id, false, 'AR', 'ARS', 'OTHER', 'savings',
                      c.name, %s, %s, md5(c.public_id) || md5(c.external_id), '0000', 'cbu', '007', 'active', false,
                      '', '{}', now(), now()
                 FROM customers_customer c WHERE c.merchant_id = %s""",
            [crypto.encrypt(make_cbu()), crypto.primary_key_id(), merchant.pk],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE customers_customer, customers_bankaccount")
    return time.perf_counter() - started


def bench_copy(path: Path) -> float:
    from django.db import connection

    columns = ", ".join(f'"{name}" text' for name in COLUMNS.split(","))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_import_bare")
        cursor.execute(f"CREATE TABLE bench_import_bare ({columns})")
        started = time.perf_counter()
        with path.open() as source:
            cursor.copy_expert("COPY bench_import_bare FROM STDIN WITH (FORMAT csv, HEADER true)", source)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_import_bare")
    return elapsed


def bench_bulk_create(path: Path, merchant) -> float:
    import csv

    from customers.models import Customer

    started = time.perf_counter()
    with path.open() as source:
        reader = csv.DictReader(source)
        batch = []
        for row in reader:
            batch.append(
                Customer(
                    merchant=merchant,
                    livemode=False,
                    type=row["type"],
                    name=row["name"],
                    email=row["email"],
                    country=row["country"],
                    external_id=row["externalId"],
                    metadata={"segment": row["metadata.segment"]},
                )
            )
            if len(batch) == 1000:
                Customer.objects.bulk_create(batch)
                batch = []
        Customer.objects.bulk_create(batch)
    return time.perf_counter() - started


def bench_sides(path: Path, merchant, batch_size: int) -> tuple[float, float]:
    """The importer's two halves, timed apart in one process: checking and preparing the rows (the API's
    checks, encryption, COPY text: the worker processes' part), and writing them (customers_import_batch,
    one transaction a batch, with the audit trail's triggers)."""
    from audit.context import actor
    from core.scope import Scope
    from customers.importing import CheckedRow, RowChecker, read_rows
    from customers.services import customers_import_batch, import_row_prepare

    scope, checker = Scope(merchant.pk, False), RowChecker()
    checking = writing = 0.0
    with path.open("rb") as source, actor("command:bench"):
        rows = read_rows(source, fmt="csv")
        while True:
            started = time.perf_counter()
            checked = [checker.check(row) for _, row in zip(range(batch_size), rows, strict=False)]
            assert all(isinstance(row, CheckedRow) for row in checked)
            batch = [import_row_prepare(scope, row) for row in checked]
            checking += time.perf_counter() - started
            if not batch:
                break
            started = time.perf_counter()
            customers_import_batch(scope=scope, rows=batch)
            writing += time.perf_counter() - started
    return checking, writing


def bench_import(path: Path, merchant, batch_size: int, writers: int) -> tuple[float, float, float]:
    """Seconds, and the peak memory in MB of the command and its worker processes together, sampled twice a
    second: the sum of their RSS (counts the pages they share once per process: an upper bound) and of
    their PSS (each shared page split between its processes: what they hold together)."""
    import psutil

    command = [sys.executable, "manage.py", "import_customers", str(path), "--merchant", merchant.public_id]
    command += ["--batch-size", str(batch_size), "--writers", str(writers)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rss = pss = 0
    tree = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            members = [member.memory_full_info() for member in [tree, *tree.children(recursive=True)]]
        except psutil.NoSuchProcess:
            continue
        rss = max(rss, sum(member.rss for member in members))
        pss = max(pss, sum(member.pss for member in members))
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"import_customers failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, rss / 2**20, pss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--writers", default="1,2", help="Comma-separated --writers values to run.")
    parser.add_argument("--existing", type=int, help="Customers already in the merchant (default: --rows; 0: skip).")
    parser.add_argument("--sides", action="store_true", help="Also time checking and writing apart.")
    args = parser.parse_args()
    writer_counts = [int(value) for value in args.writers.split(",")]
    existing = args.rows if args.existing is None else args.existing
    setup_django()
    report: dict = {"rows": args.rows, "batch_size": args.batch_size, "existing": existing}
    with tempfile.TemporaryDirectory() as folder:
        tag = str(int(time.time()))
        full, small = Path(folder) / "full.csv", Path(folder) / "small.csv"
        write_file(full, args.rows, f"f{tag}")
        write_file(small, max(args.rows // 10, 1), f"s{tag}")
        report["copy_rows_per_s"] = args.rows / bench_copy(full)
        report["bulk_create_customers_rows_per_s"] = args.rows / bench_bulk_create(
            full, new_merchant(f"bench-bulk-{tag}")
        )
        for writers in writer_counts:
            merchant = new_merchant(f"bench-import-{writers}-{tag}")
            seconds, rss, pss = bench_import(full, merchant, args.batch_size, writers)
            report[f"import_w{writers}_rows_per_s"] = args.rows / seconds
            report[f"import_w{writers}_peak_rss_sum_mb"] = rss
            report[f"import_w{writers}_peak_pss_sum_mb"] = pss
        merchant = new_merchant(f"bench-import-small-{tag}")
        _, rss, pss = bench_import(small, merchant, args.batch_size, writer_counts[-1])
        report["import_peak_rss_sum_mb_tenth_of_the_rows"] = rss
        report["import_peak_pss_sum_mb_tenth_of_the_rows"] = pss
        if existing:
            big = new_merchant(f"bench-import-big-{tag}")
            report["existing_load_seconds"] = load_existing(big, existing)
            for writers in writer_counts:
                path = Path(folder) / f"more-{writers}.csv"
                write_file(path, args.rows, f"m{writers}{tag}")
                seconds, *_ = bench_import(path, big, args.batch_size, writers)
                report[f"import_w{writers}_into_existing_rows_per_s"] = args.rows / seconds
        if args.sides:
            check_seconds, write_seconds = bench_sides(full, new_merchant(f"bench-sides-{tag}"), args.batch_size)
            report["check_side_alone_rows_per_s"] = args.rows / check_seconds
            report["write_side_alone_rows_per_s"] = args.rows / write_seconds
    bulk, copy = report["bulk_create_customers_rows_per_s"], report["copy_rows_per_s"]
    for writers in writer_counts:
        rate = report[f"import_w{writers}_rows_per_s"]
        report[f"import_w{writers}_vs_bulk_create"] = rate / bulk
        report[f"import_w{writers}_vs_copy"] = rate / copy
        if existing:
            into_existing = report[f"import_w{writers}_into_existing_rows_per_s"]
            report[f"import_w{writers}_existing_vs_empty"] = into_existing / rate
    for name, value in report.items():
        print(f"{name:44} {value:,.2f}" if isinstance(value, float) else f"{name:44} {value:,}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "import.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
