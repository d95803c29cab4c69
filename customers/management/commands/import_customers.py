"""Import customers and their bank accounts from a CSV or JSONL file (customers/importing.py has the format).

    python manage.py import_customers customers.csv --merchant mer_… [--mode test|live] [--dry-run]
        [--errors errors.csv] [--batch-size 5000] [--writers 1] [--processes N]
    cat customers.jsonl | python manage.py import_customers - --merchant mer_… --format jsonl

Rows are checked by the API's own rules; bad rows are skipped and reported (row, column, code, message),
good ones imported, a batch per transaction. Customers are matched by externalId and accounts by number,
so a re-run (after a crash, a kill, or a fixed errors file) imports every row exactly once. Memory stays
flat: the file is streamed. Rows are checked in worker processes and written on --writers connections.
Exit status 1 when any row failed.

A shell over customers.importer.Importer: it parses the options, builds the importer, calls it and prints
its counts.
"""

import csv
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from audit.context import actor
from core.scope import Scope
from customers.importer import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    MAX_PROCESSES,
    MAX_WRITERS,
    Importer,
    default_processes,
)
from customers.importing import FileFormatError
from merchants.selectors import merchant_get


class Command(BaseCommand):
    help = "Import customers and bank accounts from a CSV or JSONL file (or - for standard input)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="A .csv or .jsonl file, or - for standard input.")
        parser.add_argument("--merchant", required=True, help="The merchant's id (mer_…).")
        parser.add_argument("--mode", choices=["test", "live"], default="test")
        parser.add_argument("--format", choices=["csv", "jsonl"], help="Default: from the file's extension.")
        parser.add_argument("--dry-run", action="store_true", help="Check and match everything, write nothing.")
        parser.add_argument("--errors", help="Write bad rows here as CSV (default: standard error).")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows per transaction, 1 to {MAX_BATCH_SIZE} (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--writers",
            type=int,
            default=1,
            help=f"Database connections writing at once, 1 to {MAX_WRITERS} (default 1); a customer's rows "
            "always go to the same one.",
        )
        parser.add_argument(
            "--processes",
            type=int,
            help=f"Worker processes checking rows, 1 to {MAX_PROCESSES} (default: the cores, at most 4).",
        )

    def handle(self, *args, **options):
        merchant = merchant_get(public_id=options["merchant"])
        if merchant is None:
            raise CommandError(f"No such merchant: {options['merchant']!r}.")
        processes = default_processes() if options["processes"] is None else options["processes"]
        for name, value, most in (
            ("batch-size", options["batch_size"], MAX_BATCH_SIZE),
            ("writers", options["writers"], MAX_WRITERS),
            ("processes", processes, MAX_PROCESSES),
        ):
            if not 1 <= value <= most:
                raise CommandError(f"--{name} must be 1 to {most}.")
        fmt = options["format"] or _format_of(options["file"])
        scope = Scope(merchant.pk, options["mode"] == "live")
        started = time.monotonic()
        with _open(options["file"]) as raw, _errors_file(options["errors"]) as errors_out:
            size = os.fstat(raw.fileno()).st_size if options["file"] != "-" else None
            importer = Importer(
                scope,
                errors=csv.writer(errors_out),
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                writers=options["writers"],
                processes=processes,
                progress_out=self.stderr,
            )
            # Every writer carries this block's audit context: the import is the actor of its writes.
            file_name = "<stdin>" if options["file"] == "-" else os.path.basename(options["file"])
            try:
                with actor("command:import_customers", file=file_name, merchant=merchant.public_id):
                    counts = importer(raw, fmt=fmt, size=size)
            except (FileFormatError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {options['file']}: {exc}") from None
        seconds = time.monotonic() - started
        rate = counts["read"] / seconds if seconds else 0.0
        prefix = "dry run (nothing written): " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}read {counts['read']}, created {counts['created']}, updated {counts['updated']}, "
            f"unchanged {counts['unchanged']}, failed {counts['failed']}, {seconds:.1f} s, {rate:.0f} rows/s"
        )
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} rows failed", returncode=1)


def _format_of(path: str) -> str:
    for fmt in ("csv", "jsonl"):
        if path.lower().endswith(f".{fmt}"):
            return fmt
    raise CommandError("Cannot tell the format: name the file .csv or .jsonl, or pass --format.")


def _open(path: str):
    if path == "-":
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    try:
        return open(path, "rb")
    except OSError as exc:
        raise CommandError(f"Cannot open {path}: {exc.strerror}") from None


def _errors_file(path: str | None):
    if path is None:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w", newline="")
    return open(path, "w", newline="", encoding="utf-8")
