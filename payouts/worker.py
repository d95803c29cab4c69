"""The payout worker: claim pending payouts, send them through their rail, record the outcomes.

Workers coordinate only through PostgreSQL (SKIP LOCKED claims), so any number can run on any number of
machines. A payout left in processing by a worker that died is recovered by asking the rail what it did
with that payout id: the outcome is recorded, and a payout the rail never received is sent then (rails
are idempotent on the payout id, so even a send that raced the crash cannot pay twice).
"""

import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DatabaseError, connections

from core import crypto
from core.db import is_transient
from payouts.models import Payout
from payouts.rails import Instruction, Outcome, Rail, live_rail_configured, rail_for
from payouts.services import payouts_claim, payouts_claim_stale, payouts_settle

logger = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0


def backoff_seconds(attempt: int) -> float:
    """Exponential, capped, with jitter (half fixed, half random) so restarted workers don't stampede."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + secrets.SystemRandom().uniform(0, ceiling / 2)


@dataclass
class WorkerStats:
    claimed: int = 0
    recovered: int = 0
    settled: int = 0
    stopped: int = 0  # failed at the claim: a decision stopped them (payouts.stops)
    held: int = 0  # held at the claim: flagged for review since their creation (payouts.holds)
    outcomes: dict[str, int] = field(default_factory=dict)
    database_errors: int = 0
    errors: int = 0  # rounds that failed for anything else (logged with their traceback)


class PayoutWorker:
    def __init__(
        self,
        *,
        batch_size: int = 200,
        stale_after: timedelta = timedelta(minutes=5),
        rails=rail_for,
        livemodes: tuple[bool, ...] | None = None,
    ):
        self.batch_size = batch_size
        self.stale_after = stale_after
        self.rails = rails
        # Only modes with a rail are claimed: without a live bank rail, live payouts stay pending.
        self.livemodes = livemodes if livemodes is not None else (False, True) if live_rail_configured() else (False,)
        self.stats = WorkerStats()
        self.in_hand: list[Payout] = []  # the batch being sent and settled, until its outcomes are recorded

    def run_once(self) -> WorkerStats:
        """Finish a round an outage cut short, recover stale payouts, then drain the queue; returns when
        nothing is pending."""
        if self.in_hand:  # claimed by this worker, their outcome not recorded: ask the rail, record it
            self._settle(self.in_hand, recovering=True)
        for livemode in self.livemodes:
            while stale := payouts_claim_stale(older_than=self.stale_after, limit=self.batch_size, livemode=livemode):
                self.stats.recovered += len(stale)
                self._settle(stale, recovering=True)
            while (
                (claim := payouts_claim(limit=self.batch_size, livemode=livemode)).payouts
                or claim.stopped
                or claim.held
            ):
                self.stats.claimed += len(claim.payouts)
                self.stats.stopped += claim.stopped
                self.stats.held += claim.held
                if claim.payouts:
                    self._settle(claim.payouts, recovering=False)
        return self.stats

    def run_forever(self, *, poll_seconds: float = 1.0, stopping: threading.Event | None = None) -> None:
        """Drain, wait, repeat until `stopping` is set. It never exits for an error: a database outage is
        logged and waited out, anything else logged with its traceback, both with backoff_seconds; the batch
        a failed round left in processing is settled first when a round gets through (run_once), without
        waiting for --stale-after."""
        stopping = stopping or threading.Event()
        failures, settled_at_failure = 0, 0
        while not stopping.is_set():
            before = self.stats.claimed + self.stats.recovered + self.stats.stopped + self.stats.held
            try:
                self.run_once()
            except Exception as error:
                if self.stats.settled != settled_at_failure:  # it worked in between: a new failure
                    failures = 0
                failures, settled_at_failure = failures + 1, self.stats.settled
                delay = backoff_seconds(failures)
                self._report(error, delay, failures)
                _drop_connections()
                stopping.wait(delay)
                continue
            if failures:
                logger.info("worker resumed after %d failed attempts", failures)
                failures = 0
            if self.stats.claimed + self.stats.recovered + self.stats.stopped + self.stats.held == before:
                stopping.wait(poll_seconds)  # idle: nothing was pending

    def _report(self, error: Exception, delay: float, attempt: int) -> None:
        if is_transient(error):
            self.stats.database_errors += 1
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            logger.warning(
                "database unavailable (%s: %s); retrying in %.1f s (attempt %d)",
                type(error).__name__,
                first_line,
                delay,
                attempt,
            )
        else:
            self.stats.errors += 1
            logger.exception("worker round failed; retrying in %.1f s (attempt %d)", delay, attempt)

    def _settle(self, payouts: list[Payout], *, recovering: bool) -> None:
        self.in_hand = payouts
        outcomes: dict[int, Outcome] = {}
        for livemode in {p.livemode for p in payouts}:
            group = [p for p in payouts if p.livemode == livemode]
            outcomes.update(self._through_rail(self.rails(livemode), group, recovering=recovering))
        self.stats.settled += payouts_settle(outcomes=outcomes)
        self.in_hand = []
        for outcome in outcomes.values():
            self.stats.outcomes[outcome.failure_code or "paid"] = (
                self.stats.outcomes.get(outcome.failure_code or "paid", 0) + 1
            )

    def _through_rail(self, rail: Rail, payouts: list[Payout], *, recovering: bool) -> dict[int, Outcome]:
        by_id = {p.public_id: p for p in payouts}
        known = rail.lookup(list(by_id)) if recovering else {}
        instructions = _instructions([p for p in payouts if p.public_id not in known])
        if instructions:
            known |= rail.send(instructions)
        missing = set(by_id) - set(known)
        if missing:  # the rail must answer for every payout it was sent; stay processing, retry later
            logger.error("rail %s gave no outcome for %d payouts", rail.name, len(missing))
        return {by_id[payout_id].pk: outcome for payout_id, outcome in known.items() if payout_id in by_id}


def _drop_connections() -> None:
    """Close this thread's connections, dead or alive; the next query opens a fresh one."""
    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except DatabaseError:
            pass  # already gone


def _instructions(payouts: list[Payout]) -> list[Instruction]:
    """What the rail is sent. A payout whose destination these keys cannot decrypt (a key dropped too
    early) is left out, stays in processing and is retried by stale recovery once the key is back: it
    never holds up the rest of its batch."""
    instructions = []
    for payout in payouts:
        try:
            instructions.append(_instruction(payout))
        except crypto.DecryptionError:
            logger.error("payout %s: its destination cannot be decrypted with FIELD_ENCRYPTION_KEYS", payout.public_id)
    return instructions


def _instruction(payout: Payout) -> Instruction:
    return Instruction(
        payout_id=payout.public_id,
        amount=payout.amount,
        currency=payout.currency,
        account_number=crypto.decrypt(payout.destination_ciphertext),
    )
