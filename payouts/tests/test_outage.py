"""The worker survives database outages: a lost connection is logged, waited out with backoff, and the
worker carries on by itself."""

import threading
from collections import Counter

import pytest
from django.db import OperationalError, connection, connections

from conftest import ApiClient, make_merchant
from customers.tests.factories import make_cbu
from payouts import worker as worker_module
from payouts.models import Payout
from payouts.tests.test_worker import SpyRail
from payouts.worker import BACKOFF_MAX_SECONDS, PayoutWorker, backoff_seconds


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
