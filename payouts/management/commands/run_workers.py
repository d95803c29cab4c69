"""All background work, kept running: the payout worker and the task workers (webhook deliveries).

    python manage.py run_workers                                  # 1 payout worker, 2 task workers
    python manage.py run_workers --payout-workers 2 --task-workers 4

Each worker is a child process; one that exits (a crash, a lost database it could not ride out) is started
again after a backoff. SIGTERM or Ctrl-C stops them all gracefully (each finishes what it holds). A child
dies with this process even when it is killed with SIGKILL (PR_SET_PDEATHSIG), so nothing is orphaned
holding a database connection. Every RECOVER_EVERY seconds it also puts back in the queue the tasks a dead
worker left running (events.services.tasks_recover). Run it on as many machines as needed: the workers
share the work through PostgreSQL (row locks, SKIP LOCKED).
"""

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from events.services import tasks_recover

PR_SET_PDEATHSIG = 1
RESTART_MAX_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0
RECOVER_EVERY = 10.0


def _die_with(parent: int) -> Callable[[], None]:
    """The child's first step, between fork and exec: be sent SIGTERM when the parent dies. A parent killed
    before that line ran would leave the child running for ever (seen: a test killed run_workers as it
    started its third child), so the child checks it still has its parent once the signal is armed."""

    def arm() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return arm


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float = field(default=0.0)

    env: dict[str, str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env, preexec_fn=_die_with(os.getpid()))  # noqa: S603
        self.started_at = time.monotonic()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()


class Command(BaseCommand):
    help = "Run every background worker (payouts, webhook deliveries) and keep them running."

    def add_arguments(self, parser):
        parser.add_argument("--payout-workers", type=int, default=1, help="Payout worker processes (default 1).")
        parser.add_argument("--task-workers", type=int, default=2, help="Task worker processes (default 2).")
        parser.add_argument("--poll", type=float, default=0.2, help="Seconds an idle worker waits (default 0.2).")

    def handle(self, *args, payout_workers: int, task_workers: int, poll: float, **options):
        if not (0 <= payout_workers <= 64 and 0 <= task_workers <= 64) or payout_workers + task_workers == 0:
            raise CommandError("--payout-workers and --task-workers must be 0 to 64, and not both 0.")
        if not 0.01 <= poll <= 60:
            raise CommandError("--poll must be between 0.01 and 60 seconds.")
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        synchronous = {name: value for name, value in os.environ.items() if name != "TASK_WORKER_ASYNC_COMMIT"}
        children = [
            Child(f"payouts-{n}", [*manage, "process_payouts", "--poll", str(poll)], env=synchronous)
            for n in range(payout_workers)
        ] + [
            Child(
                f"tasks-{n}",
                [*manage, "db_worker", "--queue-name", "*", "--interval", str(poll), "--no-reload"],
                env={**os.environ, "TASK_WORKER_ASYNC_COMMIT": "1"},  # see settings: never the payout worker
            )
            for n in range(task_workers)
        ]
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        for child in children:
            child.start()
        self.stdout.write(f"run_workers: {payout_workers} payout, {task_workers} task worker(s) started", ending="\n")
        self.stdout.flush()
        recover_at = time.monotonic()
        while not stopping:
            self._supervise(children)
            if task_workers and time.monotonic() >= recover_at:
                self._recover()
                recover_at = time.monotonic() + RECOVER_EVERY
            time.sleep(0.2)
        self._stop(children)

    def _recover(self) -> None:
        try:
            requeued = tasks_recover(stale_after=timedelta(seconds=settings.TASK_STALE_SECONDS))
        except DatabaseError as error:  # the database is away: the next round tries again
            self.stderr.write(f"run_workers: task recovery skipped ({error.__class__.__name__})")
            close_old_connections()
            return
        if requeued:
            self.stderr.write(f"run_workers: {requeued} task(s) left by a stopped worker put back in the queue")

    def _supervise(self, children: list[Child]) -> None:
        now = time.monotonic()
        for child in children:
            code = child.exited()
            if code is None:
                if child.failures and now - child.started_at > HEALTHY_AFTER_SECONDS:
                    child.failures = 0
                continue
            if child.restart_at == 0.0:
                child.failures += 1
                child.restart_at = now + min(2 ** (child.failures - 1), RESTART_MAX_SECONDS)
                self.stderr.write(
                    f"run_workers: {child.name} exited ({code}); restarting in {child.restart_at - now:.0f} s"
                )
            elif now >= child.restart_at:
                child.restart_at = 0.0
                child.start()

    def _stop(self, children: list[Child], grace: float = 30.0) -> None:
        running = [c.process for c in children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("run_workers: stopped")
