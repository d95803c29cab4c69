"""The import machinery: an Importer reads a file of customers and bank accounts (customers/importing.py has
the format and the checks) and imports it a batch per transaction (customers.services), counting what it
did. The import_customers command is a shell over it: it parses options, builds an Importer, calls it and
prints its counts.

Rows are read, checked and their numbers encrypted in a background thread, at most two batches ahead,
while the calling thread writes: every database statement is sent from the caller's thread, so each
carries the caller's audit actor (audit.context). Customers are matched by externalId and accounts by
number, so a re-run (after a crash, a kill, or a fixed errors file) imports every row exactly once.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from queue import Full, Queue
from typing import IO

from django.db import DatabaseError, transaction

from core import db
from core.scope import Scope
from customers.importing import CheckedRow, Row, RowChecker, RowError, read_rows
from customers.services import customers_import_batch, customers_tables_analyze

PROGRESS_EVERY_SECONDS = 5.0
ANALYZE_FIRST_AFTER = 1000  # rows created
MAX_BATCH_SIZE = 50_000  # rows per transaction: bounds what a batch holds in memory and locks (see run's doc)
DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for deadlock_detected
COUNTS = ("read", "created", "updated", "unchanged", "failed")


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


class Importer:
    """Imports one file for one merchant and mode: `Importer(scope, errors=…)(raw, fmt="csv")`.

    errors is a csv writer: the bad rows' errors go there as row, column, code, message (after a header).
    progress_out, when given (a Django OutputWrapper: a command's stderr), gets a progress bar on a
    terminal, a line every few seconds otherwise. counts says how many rows were read, created, updated, unchanged and
    failed. A file that cannot be read raises customers.importing.FileFormatError or UnicodeDecodeError,
    after the batches before it were imported.

    A batch holds one lock for the numbers of its merchant whatever its size (customers.review), so the
    batch size bounds only its memory and its transaction's length."""

    def __init__(self, scope: Scope, *, errors, dry_run: bool = False, batch_size: int = 1000, progress_out=None):
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH_SIZE}.")
        self.scope, self.dry_run, self.batch_size = scope, dry_run, batch_size
        self.errors, self.progress_out = errors, progress_out
        self.counts: Counter = Counter({name: 0 for name in COUNTS})
        self.created_when_analyzed = 0

    def __call__(self, raw: IO[bytes], *, fmt: str, size: int | None = None) -> Counter:
        """Import the rows of raw (a binary stream of size bytes, when known: for the ETA); returns counts."""
        self.errors.writerow(["row", "column", "code", "message"])
        stream = CountingReader(raw)
        self.import_rows(read_rows(stream, fmt=fmt), stream, size)
        if self.counts["created"] and not self.dry_run:
            customers_tables_analyze()
        return self.counts

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
        for outcome in db.retry_on_lost_race(lambda: self._write_once_more_on_deadlock(batch)):
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

    def _write_once_more_on_deadlock(self, batch: list[CheckedRow]):
        """An API add to a customer this batch holds, of any number of the merchant, can deadlock with it
        (the add holds the numbers' lock shared and waits for the customer; the batch holds the customer and
        waits for the lock): PostgreSQL ends one of them, and if it is the batch, it runs again."""
        try:
            return self._write_once(batch)
        except DatabaseError as error:
            if db.sqlstate(error) != DEADLOCK:
                raise
            return self._write_once(batch)

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
    writing a batch is mostly waiting on PostgreSQL (the driver releases the GIL), so the two overlap.
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
    """A progress bar on a terminal; a plain line every few seconds otherwise (logs, CI); nothing without out."""

    def __init__(self, out, size: int | None):
        self.out, self.size = out, size
        self.tty = hasattr(out, "isatty") and out.isatty()
        self.started = self.last = time.monotonic()

    def tick(self, rows: int, position: int) -> None:
        now = time.monotonic()
        if self.out is None or now - self.last < (0.2 if self.tty else PROGRESS_EVERY_SECONDS):
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
