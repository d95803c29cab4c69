"""The payout worker.

    python manage.py process_payouts            # run until stopped (Ctrl-C / SIGTERM), polling when idle
    python manage.py process_payouts --once     # drain the queue, print what was done, exit

Run as many as you like, on as many machines: they share work through PostgreSQL row locks. A lost
database connection, a restart or a failover is logged and retried with backoff; the worker never exits
for it.
"""

import signal
import threading
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from audit.context import command_actor
from payouts.worker import PayoutWorker


class Command(BaseCommand):
    help = "Send pending payouts through their rail and record the outcomes."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Drain the queue and exit.")
        parser.add_argument("--batch-size", type=int, default=200, help="Payouts claimed per batch (default 200).")
        parser.add_argument(
            "--stale-after", type=int, default=300, help="Seconds before a processing payout is recovered (300)."
        )
        parser.add_argument("--poll", type=float, default=1.0, help="Seconds to wait when idle (default 1).")

    @command_actor
    def handle(self, *args, once: bool, batch_size: int, stale_after: int, poll: float, **options):
        if not 1 <= batch_size <= 5000:
            raise CommandError("--batch-size must be between 1 and 5000.")
        if stale_after < 1:
            raise CommandError("--stale-after must be at least 1 second.")
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            if cursor.fetchone()[0] == "off":
                raise CommandError(
                    "synchronous_commit is off on this connection: the payout worker moves money and must not "
                    "lose a commit to a crash (unset TASK_WORKER_ASYNC_COMMIT; it is for the task workers only)."
                )
        worker = PayoutWorker(batch_size=batch_size, stale_after=timedelta(seconds=stale_after))
        if once:
            stats = worker.run_once()
        else:
            stopping = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stopping.set())
            self.stdout.write("payout worker started")
            try:
                worker.run_forever(poll_seconds=poll, stopping=stopping)
            except KeyboardInterrupt:
                pass
            stats = worker.stats
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(stats.outcomes.items())) or "none"
        self.stdout.write(
            f"claimed {stats.claimed}, recovered {stats.recovered}, settled {stats.settled}; outcomes: {outcomes}"
        )
