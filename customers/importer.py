"""The import machinery: an Importer reads a file of customers and bank accounts (customers/importing.py has
the format and the checks) and imports it a batch per transaction (customers.services), counting what it
did. The import_customers command is a shell over it: it parses options, builds an Importer, calls it and
prints its counts.

Three stages, so both cores work. A thread reads the file, a chunk of rows at a time; worker processes
(CheckProcesses) check the rows by the API's rules, encrypt their numbers and build their COPY text; the
writers (Writers) send them to PostgreSQL, a batch per transaction, on one or more connections. Every
stage is bounded (a few chunks in flight, a batch per writer), so memory stays flat whatever the file's
size. The workers never touch the database, and exit when the importer dies. Every writer's statements
carry the caller's audit actor (audit.context). Customers are matched by externalId and accounts by
number, so a re-run (after a crash, a kill, or a fixed errors file) imports every row exactly once.
"""

import multiprocessing
import os
import pickle
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from audit import context as audit_context
from core import db
from core.scope import Scope
from customers import import_worker
from customers.import_worker import WorkerSetup, next_task
from customers.importing import CheckedRow, Row, RowChecker, RowError, read_rows
from customers.selectors import customers_planned_count
from customers.services import PreparedRow, customers_import_batch, customers_tables_analyze, import_row_prepare

PROGRESS_EVERY_SECONDS = 5.0
ANALYZE_FIRST_AFTER = 1000  # rows created
DEFAULT_BATCH_SIZE = 5000  # measured 6-24% faster than 1,000 (bench/import_bench.py); more gains nothing
MAX_BATCH_SIZE = 50_000  # rows per transaction: bounds what a writer holds in memory (see Importer's doc)
MAX_WRITERS = 8
MAX_PROCESSES = 16
CHUNK_ROWS = 1000  # rows a worker process checks at a time
DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for deadlock_detected
COUNTS = ("read", "created", "updated", "unchanged", "failed")


def default_processes() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


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
    terminal, a line every few seconds otherwise. counts says how many rows were read, created, updated,
    unchanged and failed. A file that cannot be read raises customers.importing.FileFormatError or
    UnicodeDecodeError, after the batches before it were imported.

    writers: database connections writing at once; a customer's rows always go to the same one, in the
    file's order. processes: worker processes checking rows. A batch holds one lock for the numbers of
    its merchant whatever its size (customers.review), so the batch size bounds only a writer's memory
    and its transaction's length. Bad option values raise ValueError here, before any row is read."""

    def __init__(
        self,
        scope: Scope,
        *,
        errors,
        dry_run: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        writers: int = 1,
        processes: int | None = None,
        progress_out=None,
    ):
        processes = default_processes() if processes is None else processes
        for name, value, most in (
            ("batch_size", batch_size, MAX_BATCH_SIZE),
            ("writers", writers, MAX_WRITERS),
            ("processes", processes, MAX_PROCESSES),
        ):
            if not isinstance(value, int) or not 1 <= value <= most:
                raise ValueError(f"{name} must be 1 to {most}.")
        self.scope, self.dry_run, self.batch_size = scope, dry_run, batch_size
        self.writers, self.processes = writers, processes
        self.errors, self.progress_out = errors, progress_out
        self.counts: Counter = Counter({name: 0 for name in COUNTS})
        self.created_when_analyzed = 0
        self.planned_before = 0  # the merchant's customers, as the planner saw them when the import began
        self.lock = threading.Lock()  # counts and the errors file, shared by the writers

    def __call__(self, raw: IO[bytes], *, fmt: str, size: int | None = None) -> Counter:
        """Import the rows of raw (a binary stream of size bytes, when known: for the ETA); returns counts."""
        self.errors.writerow(["row", "column", "code", "message"])
        planned = customers_planned_count(scope=self.scope)
        self.planned_before = planned if planned >= ANALYZE_FIRST_AFTER else 0
        stream = CountingReader(raw)
        chunks = _chunks(read_rows(stream, fmt=fmt), stream, min(CHUNK_ROWS, self.batch_size))
        progress = Progress(self.progress_out, size)
        with CheckProcesses(self.scope, self.processes) as checking, Writers(self._write, self.writers) as writers:
            for chunk in checking.checked(chunks):
                with self.lock:
                    self.counts["read"] += chunk.read
                    for errors in chunk.failed:
                        self._failed(errors)
                writers.add(chunk.rows, self.batch_size)
                progress.tick(self.counts["read"], chunk.position)
            writers.finish()
        progress.done(self.counts["read"])
        if self.counts["created"] and not self.dry_run:
            customers_tables_analyze()
        return self.counts

    def _failed(self, errors: list[RowError]) -> None:
        self.counts["failed"] += 1
        for error in errors:
            self.errors.writerow([error.row, error.column, error.code, error.message])

    def _write(self, batch: list[PreparedRow]) -> None:
        """One batch, on the calling thread's connection (Writers calls it from each writer)."""
        result = db.retry_on_lost_race(lambda: self._write_once_more_on_deadlock(batch))
        with self.lock:
            self.counts.update(result.counts)
            for number, errors in result.failed:
                self._failed([RowError(number, *error) for error in errors])
            analyze = self._due_for_analyze()
        if analyze:
            customers_tables_analyze()

    def _due_for_analyze(self) -> bool:
        """ANALYZE each time the merchant's customers have doubled since the planner last saw them (for a
        new merchant: 1,000, 2,000, 4,000… created; a few dozen for millions). Otherwise, importing into a
        new merchant, the planner keeps taking it for an empty one and reads each batch's lookups off the
        (merchant, mode) index, scanning all the rows imported so far: every batch gets slower, the whole
        import quadratic (bench/import_bench.py showed 3 s a batch at 900k). A merchant the planner
        already knows as large needs none until it doubles: each ANALYZE reads 30,000 random pages of the
        tables (a fifth of a two-writer import into a merchant with 1,000,000 customers)."""
        created, before = self.counts["created"], self.planned_before
        if not self.dry_run and created >= max(ANALYZE_FIRST_AFTER, before + 2 * self.created_when_analyzed):
            self.created_when_analyzed = created
            return True
        return False

    def _write_once_more_on_deadlock(self, batch: list[PreparedRow]):
        """An API add to a customer this batch holds, of any number of the merchant, can deadlock with it
        (the add holds the numbers' lock shared and waits for the customer; the batch holds the customer and
        waits for the lock): PostgreSQL ends one of them, and if it is the batch, it runs again."""
        try:
            return self._write_once(batch)
        except DatabaseError as error:
            if db.sqlstate(error) != DEADLOCK:
                raise
            return self._write_once(batch)

    def _write_once(self, batch: list[PreparedRow]):
        with transaction.atomic():
            result = customers_import_batch(scope=self.scope, rows=batch)
            if self.dry_run:
                transaction.set_rollback(True)
        return result


def _chunks(rows: Iterator[Row | RowError], stream: CountingReader, size: int) -> Iterator[tuple[list, int]]:
    """The file's records, size at a time, each chunk with the bytes read so far (the last may be empty). A
    Row travels as a plain tuple: unpickling dataclasses cost a worker more than a sixth of its time."""
    chunk: list[tuple | RowError] = []
    for item in rows:
        chunk.append(item if isinstance(item, RowError) else (item.number, item.customer, item.accounts, item.csv))
        if len(chunk) >= size:
            yield chunk, stream.position
            chunk = []
    yield chunk, stream.position


@dataclass
class CheckedChunk:
    read: int = 0
    rows: list[PreparedRow] = field(default_factory=list)
    failed: list[list[RowError]] = field(default_factory=list)
    position: int = 0  # bytes of the file read so far


class CheckProcesses:
    """Worker processes that check chunks of rows, encrypt their numbers and build their COPY text,
    handing them back in the file's order.

    A thread of this process reads the file (a chunk is read while the writers wait on PostgreSQL) and
    hands chunks to the workers, at most `ahead` in flight (memory stays flat). The workers are fresh
    interpreters (spawn), not forks: they hold none of the parent's database connections, and open none.
    Each asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG), and checks its parent is
    still there every second while idle, so a kill -9 of the importer leaves no worker behind. An
    exception in a worker or in the reading thread is raised in the caller, in the file's order."""

    def __init__(self, scope: Scope, count: int):
        self.count, self.ahead = count, threading.Semaphore(2 * count + 2)
        context = multiprocessing.get_context("spawn")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.stopping, self.reader_end = threading.Event(), None
        setup = WorkerSetup(
            settings_module=os.environ.get("DJANGO_SETTINGS_MODULE", "payoutsite.settings"),
            overrides={
                "FIELD_ENCRYPTION_KEYS": list(settings.FIELD_ENCRYPTION_KEYS),
                "ACCOUNT_FINGERPRINT_KEY": settings.ACCOUNT_FINGERPRINT_KEY,
            },
            merchant_id=scope.merchant_id,
            livemode=scope.livemode,
            parent_pid=os.getpid(),
        )
        # Started from the calling thread, which lives as long as the import: PR_SET_PDEATHSIG fires when
        # the thread that started a process ends, not its process.
        self.workers = [
            context.Process(target=import_worker.run, args=(setup, self.tasks, self.results), name=f"import-check-{i}")
            for i in range(count)
        ]
        for worker in self.workers:
            worker.daemon = True
            worker.start()

    def __enter__(self) -> "CheckProcesses":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def checked(self, chunks: Iterator[tuple[list, int]]) -> Iterator[CheckedChunk]:
        threading.Thread(target=self._read, args=(chunks,), name="import-reader", daemon=True).start()
        waiting: dict[int, tuple[str, Any]] = {}
        at = 0
        while True:
            while at not in waiting:
                seq, kind, payload = self._next_result()
                waiting[seq] = self.reader_end[1:] if kind == "reader_end" else (kind, payload)
            kind, payload = waiting.pop(at)
            at += 1
            if kind == "error":
                raise payload
            if kind == "end":
                return
            self.ahead.release()
            yield payload

    def _read(self, chunks: Iterator[tuple[list, int]]) -> None:
        """The reading thread. Its last word (the end, or the error that stopped it) stays in this process
        (an exception need not survive pickling); the results queue only says where it goes in order."""
        seq = 0
        try:
            for chunk in chunks:
                while not self.ahead.acquire(timeout=0.5):
                    if self.stopping.is_set():
                        return
                if self.stopping.is_set():
                    return
                self.tasks.put((seq, chunk))
                seq += 1
        except BaseException as exc:  # raised in the caller, after the chunks before it
            self.reader_end = (seq, "error", exc)
        else:
            self.reader_end = (seq, "end", None)
        self.results.put((seq, "reader_end", None))

    def _next_result(self) -> tuple[int, str, Any]:
        while True:
            try:
                return self.results.get(timeout=1)
            except queue.Empty:
                dead = [worker for worker in self.workers if not worker.is_alive()]
                if dead:
                    raise RuntimeError(f"An import worker process died (exit code {dead[0].exitcode}).") from None

    def close(self) -> None:
        self.stopping.set()
        self.ahead.release(2 * self.count + 2)  # a reading thread waiting for room sees it should stop
        for _ in self.workers:
            self.tasks.put(None)
        deadline = time.monotonic() + 5
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join()
        for q in (self.tasks, self.results):
            q.cancel_join_thread()  # what is left in them is for no one
            q.close()


def check_worker(setup: WorkerSetup, tasks, results) -> None:
    """A worker process (set up by customers.import_worker.run): checks the chunks it is given until told
    to stop (None), or its parent is gone."""
    checker, scope = RowChecker(), Scope(setup.merchant_id, setup.livemode)
    while (task := next_task(tasks, setup.parent_pid)) is not None:
        seq, (rows, position) = task
        try:
            results.put((seq, "chunk", check_chunk(checker, scope, rows, position)))
        except BaseException as exc:
            results.put((seq, "error", _picklable(exc)))


def check_chunk(checker: RowChecker, scope: Scope, rows: list[tuple | RowError], position: int) -> CheckedChunk:
    chunk = CheckedChunk(read=len(rows), position=position)
    for item in rows:
        checked = [item] if isinstance(item, RowError) else checker.check(Row(*item))
        if isinstance(checked, CheckedRow):
            chunk.rows.append(import_row_prepare(scope, checked))
        else:
            chunk.failed.append(checked)
    return chunk


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.dumps(exc)
    except Exception:
        return RuntimeError(f"{type(exc).__name__} in an import worker process")
    return exc


class Writers:
    """Batches of rows to `count` database connections. Writer 0 is the calling thread (its connection:
    in a test, the test's transaction); the others are threads, each with a connection of its own, that
    write with the caller's audit actor and details (audit.context.joined). A customer's rows always go
    to the same writer, in the file's order, so no two writers ever hold one customer. A writer's failure
    is raised in the caller."""

    def __init__(self, write: Callable[[list[PreparedRow]], None], count: int):
        self.write, self.pending = write, [[] for _ in range(count)]
        self.queues: list[queue.Queue] = [queue.Queue(maxsize=1) for _ in range(count - 1)]
        self.failure: BaseException | None = None
        context = audit_context.current()
        self.threads = [
            threading.Thread(target=self._run, args=(q, context), name=f"import-writer-{i + 1}", daemon=True)
            for i, q in enumerate(self.queues)
        ]
        for thread in self.threads:
            thread.start()

    def __enter__(self) -> "Writers":
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop()

    def add(self, rows: list[PreparedRow], batch_size: int) -> None:
        """Write every full batch, the other writers' first (they write while this thread writes its own)."""
        count = len(self.pending)
        if count == 1:
            self.pending[0].extend(rows)
        else:
            for row in rows:
                self.pending[hash(row.external_id) % count].append(row)
        for at in [*range(1, count), 0]:
            while len(self.pending[at]) >= batch_size:
                self._send(at, self.pending[at][:batch_size])
                del self.pending[at][:batch_size]

    def finish(self) -> None:
        """Write what is left, wait for every writer, raise the first failure."""
        for at in [*range(1, len(self.pending)), 0]:
            if self.pending[at]:
                self._send(at, self.pending[at])
                self.pending[at] = []
        self._stop()
        if self.failure is not None:
            raise self.failure

    def _send(self, at: int, batch: list[PreparedRow]) -> None:
        if self.failure is not None:
            raise self.failure
        if at == 0:
            self.write(batch)
        else:
            self.queues[at - 1].put(batch)

    def _stop(self) -> None:
        for q, thread in zip(self.queues, self.threads, strict=True):
            if thread.is_alive():
                q.put(None)
        for thread in self.threads:
            thread.join()

    def _run(self, q: queue.Queue, context) -> None:
        try:
            with audit_context.joined(context):
                while (batch := q.get()) is not None:
                    if self.failure is None:
                        self.write(batch)
        except BaseException as exc:
            self.failure = exc
            while q.get() is not None:  # the caller may still hand batches over until it sees the failure
                pass
        finally:
            connection.close()


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
