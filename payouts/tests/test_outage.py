"""The worker survives database outages: a lost connection is logged, waited out with backoff, and the
worker carries on by itself."""

import threading
from collections import Counter

import pytest
from django.db import OperationalError, connection, connections

from customers.tests.factories import make_cbu
from payouts import worker as worker_module
from payouts.models import Payout
from payouts.tests.test_worker import SpyRail
from payouts.worker import BACKOFF_MAX_SECONDS, PayoutWorker, backoff_seconds
from testsupport.api import ApiClient, make_merchant


def test_backoff_grows_is_capped_and_jittered():
    for attempt in range(1, 30):
        ceiling = min(BACKOFF_MAX_SECONDS, 0.5 * 2 ** (attempt - 1))
        delays = {backoff_seconds(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jitter: workers restarted together do not retry together
    assert backoff_seconds(100) <= BACKOFF_MAX_SECONDS


def terminate_other_connections() -> int:
    """What a PostgreSQL restart or failover does to every other session of this database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_survives_its_connection_being_terminated(monkeypatch, caplog):
    api = ApiClient(make_merchant("Outage").test)
    monkeypatch.setattr(worker_module, "BACKOFF_FIRST_SECONDS", 0.01)  # the test need not wait long

    settled = threading.Semaphore(0)
    original_settle = worker_module.payouts_settle

    def settle_and_signal(**kwargs):
        count = original_settle(**kwargs)
        for _ in range(count):
            settled.release()
        return count

    monkeypatch.setattr(worker_module, "payouts_settle", settle_and_signal)
    worker, stopping, crashed = PayoutWorker(), threading.Event(), []

    def run():
        try:
            worker.run_forever(poll_seconds=0.02, stopping=stopping)
        except BaseException as error:  # the guard under test: the worker must never get here
            crashed.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        first = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "destinationCbu": make_cbu()}).json()
        assert settled.acquire(timeout=30)
        assert terminate_other_connections() >= 1  # the worker's session is gone
        second = api.post("/payouts", {"amount": "2.00", "currency": "ARS", "destinationCbu": make_cbu()}).json()
        assert settled.acquire(timeout=30), f"the worker did not resume: {crashed}"
    finally:
        stopping.set()
        thread.join(timeout=30)

    assert crashed == []
    assert worker.stats.database_errors >= 1
    statuses = dict(Payout.objects.values_list("public_id", "status"))
    assert statuses == {first["payoutId"]: "paid", second["payoutId"]: "paid"}
    assert "database unavailable" in caplog.text and "retrying in" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_settling_an_outage_cut_short_is_settled_when_the_database_is_back(monkeypatch):
    """Not after --stale-after (5 minutes): the worker still holds the batch, asks the rail, records it."""
    api = ApiClient(make_merchant("Cut short").test)
    for amount in ("1.00", "2.00", "3.00"):
        api.post("/payouts", {"amount": amount, "currency": "ARS", "destinationCbu": make_cbu()})
    spy = SpyRail()
    worker = PayoutWorker(rails=lambda livemode: spy)
    original_settle = worker_module.payouts_settle

    def outage(**kwargs):  # the rail was paid, then the database went away before the outcomes were saved
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(worker_module, "payouts_settle", outage)
    with pytest.raises(OperationalError):
        worker.run_once()
    monkeypatch.setattr(worker_module, "payouts_settle", original_settle)
    assert Counter(Payout.objects.values_list("status", flat=True)) == {"processing": 3}

    worker.run_once()  # the database is back: the next round

    assert Counter(Payout.objects.values_list("status", flat=True)) == {"paid": 3}
    assert sorted(spy.sent) == sorted(Payout.objects.values_list("public_id", flat=True))  # each sent once
    assert (worker.stats.settled, worker.in_hand) == (3, [])


def test_a_payout_the_keys_cannot_read_is_left_out_and_never_holds_up_its_batch(api, settings):
    from core import crypto

    unreadable = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "destinationCbu": make_cbu()}).json()
    readable = api.post("/payouts", {"amount": "2.00", "currency": "ARS", "destinationCbu": make_cbu()}).json()
    Payout.objects.filter(public_id=unreadable["payoutId"]).update(destination_ciphertext="gAAAAAB" + "x" * 80)

    stats = PayoutWorker().run_once()

    statuses = dict(Payout.objects.values_list("public_id", "status"))
    assert statuses == {unreadable["payoutId"]: "processing", readable["payoutId"]: "paid"}
    assert stats.outcomes == {"paid": 1}
    assert crypto.DecryptionError  # the stale recovery retries it once the key is back


@pytest.mark.django_db(transaction=True)  # the worker drops its connections after a failed round
def test_any_other_error_in_a_round_is_logged_and_the_worker_carries_on(monkeypatch, caplog):
    api = ApiClient(make_merchant("Bug once").test)
    payout = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "destinationCbu": make_cbu()}).json()
    stopping, original, calls = threading.Event(), worker_module.payouts_claim, []

    def broken_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("a bug in one round")
        claim = original(**kwargs)
        if not claim.payouts or len(calls) > 10:
            stopping.set()  # drained (or, failing, bounded): end the test's loop
        return claim

    monkeypatch.setattr(worker_module, "payouts_claim", broken_once)
    monkeypatch.setattr(worker_module, "BACKOFF_FIRST_SECONDS", 0.001)
    worker = PayoutWorker()
    worker.run_forever(poll_seconds=0.001, stopping=stopping)

    assert (worker.stats.errors, worker.stats.claimed) == (1, 1)
    assert Payout.objects.get(public_id=payout["payoutId"]).status == "paid"
    assert "worker round failed" in caplog.text and "a bug in one round" in caplog.text


class FakeDriverError(Exception):
    def __init__(self, pgcode: str):
        self.pgcode = pgcode


@pytest.mark.parametrize(
    ("sqlstate", "transient"),
    [("25006", True), ("57P01", True), ("08006", True), ("40P01", True), ("23505", False), ("42P01", False)],
)
def test_a_failover_to_a_read_only_node_is_transient_but_a_bug_is_not(sqlstate, transient):
    """psycopg2 raises 25006 (read-only transaction) as InternalError, not OperationalError."""
    from django.db import InternalError

    from core.db import is_transient

    error = InternalError("cannot execute INSERT in a read-only transaction")
    error.__cause__ = FakeDriverError(sqlstate)
    assert is_transient(error) is transient
    assert is_transient(RuntimeError("not a database error")) is False
