"""Import benchmark: import_customers against PostgreSQL COPY and Django bulk_create of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench .venv/bin/python -m bench.import_bench
        [--rows 1000000] [--batch-size 1000]

Writes a CSV of ROWS customers, each with one bank account, then in the same run:
- COPY of the file into a bare table (the file's columns as text, no index, no constraint): the floor;
- Django bulk_create of the customers alone (no accounts, no validation), batches of 1000;
- the importer's two halves timed apart: reading and checking alone, and writing alone (the write side
  bounds any importer that keeps this schema: its indexes, foreign keys and audit triggers);
- `manage.py import_customers` on the file, in a child process, with its peak RSS.
Reports rows/s for each and the importer's ratio to both; results in bench/results/import.json. The
importer's peak RSS is also measured on a file of a tenth of the rows, to show whether memory grows.
"""

import argparse
import json
import resource
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
    """The importer's two halves, timed apart in one process: reading and checking the rows (the API's
    checks, encryption), and writing them (customers_import_batch, one transaction a batch, with the
    audit trail's triggers). The write side alone bounds any importer that keeps this schema."""
    from django.db import transaction

    from audit.context import actor
    from core.scope import Scope
    from customers.importing import CheckedRow, RowChecker, read_rows
    from customers.services import customers_import_batch

    scope, checker = Scope(merchant.pk, False), RowChecker()
    checking = writing = 0.0
    with path.open("rb") as source, actor("command:bench"):
        rows, batch = read_rows(source, fmt="csv"), []
        while True:
            started = time.perf_counter()
            batch = [checker.check(row) for _, row in zip(range(batch_size), rows, strict=False)]
            checking += time.perf_counter() - started
            if not batch:
                break
            assert all(isinstance(row, CheckedRow) for row in batch)
            started = time.perf_counter()
            with transaction.atomic():
                customers_import_batch(scope=scope, rows=batch)
            writing += time.perf_counter() - started
    return checking, writing


def bench_import(path: Path, merchant, batch_size: int) -> tuple[float, float]:
    """Seconds, and the child's peak RSS in MB."""
    command = [sys.executable, "manage.py", "import_customers", str(path), "--merchant", merchant.public_id]
    started = time.perf_counter()
    subprocess.run([*command, "--batch-size", str(batch_size)], cwd=ROOT, check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    setup_django()
    with tempfile.TemporaryDirectory() as folder:
        tag = str(int(time.time()))
        small, full = Path(folder) / "small.csv", Path(folder) / "full.csv"
        write_file(small, max(args.rows // 10, 1), f"s{tag}")
        write_file(full, args.rows, f"f{tag}")
        _, small_rss = bench_import(small, new_merchant(f"bench-import-small-{tag}"), args.batch_size)
        copy_seconds = bench_copy(full)
        bulk_seconds = bench_bulk_create(full, new_merchant(f"bench-import-bulk-{tag}"))
        check_seconds, write_seconds = bench_sides(full, new_merchant(f"bench-import-sides-{tag}"), args.batch_size)
        import_seconds, full_rss = bench_import(full, new_merchant(f"bench-import-{tag}"), args.batch_size)
    rates = {
        "copy_rows_per_s": args.rows / copy_seconds,
        "bulk_create_customers_rows_per_s": args.rows / bulk_seconds,
        "import_rows_per_s": args.rows / import_seconds,
        "import_check_side_alone_rows_per_s": args.rows / check_seconds,
        "import_write_side_alone_rows_per_s": args.rows / write_seconds,
    }
    report = {
        "rows": args.rows,
        **rates,
        "import_vs_copy": rates["import_rows_per_s"] / rates["copy_rows_per_s"],
        "import_vs_bulk_create": rates["import_rows_per_s"] / rates["bulk_create_customers_rows_per_s"],
        "import_peak_rss_mb": full_rss,
        "import_peak_rss_mb_tenth_of_the_rows": small_rss,
    }
    for name, value in report.items():
        print(f"{name:40} {value:,.2f}" if isinstance(value, float) else f"{name:40} {value:,}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "import.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
