"""Import customers and their bank accounts from a CSV or JSONL file (customers/importing.py has the format).

    python manage.py import_customers customers.csv --merchant mer_… [--mode test|live] [--dry-run]
        [--errors errors.csv] [--batch-size 1000]
    cat customers.jsonl | python manage.py import_customers - --merchant mer_… --format jsonl

Rows are checked by the API's own rules; bad rows are skipped and reported (row, column, code, message),
good ones imported, a batch per transaction. Customers are matched by externalId and accounts by number,
so a re-run (after a crash, a kill, or a fixed errors file) imports every row exactly once. Memory stays
flat: the file is streamed. Exit status 1 when any row failed.
"""

import csv
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from queue import Full, Queue
from typing import IO

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.context import actor
from core import db
from core.scope import Scope
from customers.importing import CheckedRow, FileFormatError, Row, RowChecker, RowError, read_rows
from customers.services import customers_import_batch, customers_tables_analyze
from merchants.selectors import merchant_get

PROGRESS_EVERY_SECONDS = 5.0
ANALYZE_FIRST_AFTER = 1000  # rows created


class CountingReader:
    """A binary stream that counts the bytes read, for progress and ETA."""

    def __init__(self, raw: IO[bytes]):
        self.raw, self.position = raw, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.position += len(chunk)
        return chunk

    def read1(self, size: int = -1) -> bytes:  # what TextIOWrapper calls
        chunk = self.raw.read1(size)
        self.position += len(chunk)
        return chunk

    def readable(self) -> bool:
        return True

    def __getattr__(self, name):
        return getattr(self.raw, name)


class Command(BaseCommand):
    help = "Import customers and bank accounts from a CSV or JSONL file (or - for standard input)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="A .csv or .jsonl file, or - for standard input.")
        parser.add_argument("--merchant", required=True, help="The merchant's id (mer_…).")
        parser.add_argument("--mode", choices=["test", "live"], default="test")
        parser.add_argument("--format", choices=["csv", "jsonl"], help="Default: from the file's extension.")
        parser.add_argument("--dry-run", action="store_true", help="Check and match everything, write nothing.")
        parser.add_argument("--errors", help="Write bad rows here as CSV (default: standard error).")
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per transaction (default 1000).")

    def handle(self, *args, **options):
        merchant = merchant_get(public_id=options["merchant"])
        if merchant is None:
            raise CommandError(f"No such merchant: {options['merchant']!r}.")
        if not 1 <= options["batch_size"] <= 50_000:
            raise CommandError("--batch-size must be 1 to 50000.")
        fmt = options["format"] or _format_of(options["file"])
        scope = Scope(merchant.pk, options["mode"] == "live")
        started = time.monotonic()
        with _open(options["file"]) as raw, _errors_file(options["errors"]) as errors_out:
            stream = CountingReader(raw)
            size = os.fstat(raw.fileno()).st_size if options["file"] != "-" else None
            run = ImportRun(scope, options["dry_run"], options["batch_size"], csv.writer(errors_out), self.stderr)
            # Every write is sent from this thread, so each carries the import as its audit actor.
            file_name = "<stdin>" if options["file"] == "-" else os.path.basename(options["file"])
            try:
                with actor("command:import_customers", file=file_name, merchant=merchant.public_id):
                    run.import_rows(read_rows(stream, fmt=fmt), stream, size)
            except (FileFormatError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {options['file']}: {exc}") from None
        if run.counts["created"] and not options["dry_run"]:
            customers_tables_analyze()
        self._summary(run.counts, time.monotonic() - started, options["dry_run"])
        if run.counts["failed"]:
            raise CommandError(f"{run.counts['failed']} rows failed", returncode=1)

    def _summary(self, counts: Counter, seconds: float, dry_run: bool) -> None:
        rate = counts["read"] / seconds if seconds else 0.0
        prefix = "dry run (nothing written): " if dry_run else ""
        self.stdout.write(
            f"{prefix}read {counts['read']}, created {counts['created']}, updated {counts['updated']}, "
            f"unchanged {counts['unchanged']}, failed {counts['failed']}, {seconds:.1f} s, {rate:.0f} rows/s"
        )


class ImportRun:
    def __init__(self, scope: Scope, dry_run: bool, batch_size: int, errors, progress_out):
        self.scope, self.dry_run, self.batch_size = scope, dry_run, batch_size
        self.errors, self.progress_out = errors, progress_out
        self.counts: Counter = Counter()
        self.errors.writerow(["row", "column", "code", "message"])
        self.created_when_analyzed = 0

    def import_rows(self, rows: Iterator[Row | RowError], stream: CountingReader, size: int | None) -> None:
        """Rows are read and checked a batch ahead, in a thread, while this one writes (see in_background);
        every database statement is sent from this thread."""
        progress = Progress(self.progress_out, size)
        for chunk in in_background(self._checked(rows, stream)):
            self.counts["read"] += chunk.read
            for errors in chunk.failed:
                self._failed(errors)
            if chunk.batch:
                self._write(chunk.batch)
            progress.tick(self.counts["read"], chunk.position)
        progress.done(self.counts["read"])

    def _checked(self, rows: Iterator[Row | RowError], stream: CountingReader) -> Iterator["Chunk"]:
        """The rows, batch_size at a time: the good ones checked and prepared, the bad ones' errors."""
        checker, chunk = RowChecker(), Chunk()
        for item in rows:
            chunk.read += 1
            checked = checker.check(item) if not isinstance(item, RowError) else [item]
            if isinstance(checked, CheckedRow):
                chunk.batch.append(checked)
            else:
                chunk.failed.append(checked)
            if chunk.read >= self.batch_size:
                chunk.position = stream.position
                yield chunk
                chunk = Chunk()
        chunk.position = stream.position
        yield chunk

    def _failed(self, errors: list[RowError]) -> None:
        self.counts["failed"] += 1
        for error in errors:
            self.errors.writerow([error.row, error.column, error.code, error.message])

    def _write(self, batch: list[CheckedRow]) -> None:
        for outcome in db.retry_on_lost_race(lambda: self._write_once(batch)):
            if outcome.result == "failed":
                self._failed([RowError(outcome.row, *error) for error in outcome.errors])
            else:
                self.counts[outcome.result] += 1
        self._keep_statistics_fresh()

    def _keep_statistics_fresh(self) -> None:
        """ANALYZE each time the rows created have doubled (1,000, 2,000, 4,000…: a few dozen for millions).
        Otherwise, importing into a new merchant, the planner keeps taking it for an empty one and reads
        each batch's lookups off the (merchant, mode) index, scanning all the rows imported so far: every
        batch gets slower, the whole import quadratic (bench/import_bench.py showed 3 s a batch at 900k)."""
        created = self.counts["created"]
        if not self.dry_run and created >= max(ANALYZE_FIRST_AFTER, 2 * self.created_when_analyzed):
            customers_tables_analyze()
            self.created_when_analyzed = created

    def _write_once(self, batch: list[CheckedRow]):
        with transaction.atomic():
            outcomes = customers_import_batch(scope=self.scope, rows=batch)
            if self.dry_run:
                transaction.set_rollback(True)
        return outcomes


@dataclass
class Chunk:
    read: int = 0
    batch: list[CheckedRow] = field(default_factory=list)
    failed: list[list[RowError]] = field(default_factory=list)
    position: int = 0  # bytes of the file read so far


def in_background[T](items: Iterator[T], ahead: int = 2) -> Iterator[T]:
    """items, produced by a thread up to `ahead` in advance. Checking rows is Python (it holds the GIL);
    writing a batch is mostly waiting on PostgreSQL (psycopg2 releases the GIL), so the two overlap.
    Memory stays flat: at most `ahead` chunks wait. An exception in the thread is raised here."""
    queue: Queue = Queue(maxsize=ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(queue, (item, None), stop):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            _put(queue, (None, exc), stop)
        else:
            _put(queue, (_DONE, None), stop)

    threading.Thread(target=produce, name="import-reader", daemon=True).start()
    try:
        while True:
            item, error = queue.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()  # the consumer is gone (done, or failed): the producer stops at its next item


_DONE = object()


def _put(queue: Queue, item: tuple, stop: threading.Event) -> bool:
    """False when the consumer has gone."""
    while not stop.is_set():
        try:
            queue.put(item, timeout=0.1)
            return True
        except Full:
            continue
    return False


class Progress:
    """A progress bar on a terminal; a plain line every few seconds otherwise (logs, CI)."""

    def __init__(self, out, size: int | None):
        self.out, self.size = out, size
        self.tty = hasattr(out, "isatty") and out.isatty()
        self.started = self.last = time.monotonic()

    def tick(self, rows: int, position: int) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else PROGRESS_EVERY_SECONDS):
            return
        self.last = now
        rate = rows / (now - self.started)
        line = f"{rows} rows, {rate:.0f} rows/s"
        if self.size:
            done = min(position / self.size, 1.0)
            eta = (now - self.started) * (1 - done) / done if done else 0
            line = f"[{'#' * int(done * 30):<30}] {done:4.0%} {line}, ETA {eta:.0f} s"
        self.out.write(f"\r{line}" if self.tty else line, ending="" if self.tty else "\n")
        self.out.flush()

    def done(self, rows: int) -> None:
        if self.tty:
            self.out.write("")


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
