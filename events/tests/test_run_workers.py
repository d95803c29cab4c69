"""`manage.py run_workers`, the one command for all background work, as production runs it."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from testsupport.databases import running_test_database_url

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def start_workers() -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": running_test_database_url()}
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_workers", "--task-workers", "2", "--poll", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def paid_event_arrived(requests) -> bool:
    return any(json.loads(r.body)["type"] == "payout.paid" for r in requests)


def test_run_workers_pays_and_reports_then_stops_on_sigterm(api, payee, receiver):
    api.post("/webhook-endpoints", {"url": receiver.url, "enabledEvents": ["payout.processing", "payout.paid"]})
    payout = api.post("/payouts", {"amount": "10.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    workers = start_workers()
    try:
        assert receiver.wait_for(paid_event_arrived), "no payout.paid webhook"
        children = psutil.Process(workers.pid).children()
        assert len(children) == 3
    finally:
        workers.send_signal(signal.SIGTERM)
        code = workers.wait(timeout=60)
    assert code == 0
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    types = [json.loads(r.body)["type"] for r in receiver.requests]
    assert sorted(types) == ["payout.paid", "payout.processing"]
    assert json.loads(receiver.requests[-1].body)["data"]["object"]["payoutId"] == payout["payoutId"]


def test_its_workers_die_with_it_even_on_sigkill(db):
    workers = start_workers()
    try:
        children = []
        while len(children) < 3 and workers.poll() is None:
            children = psutil.Process(workers.pid).children()
    finally:
        workers.send_signal(signal.SIGKILL)
        workers.wait()
    _gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []


def test_run_workers_puts_back_a_task_a_dead_worker_left_running(api, create_customer, receiver):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    api.post("/webhook-endpoints", {"url": receiver.url, "enabledEvents": ["*"]})
    create_customer()
    # As a worker killed mid-task leaves it: claimed, running, long ago.
    DBTaskResult.objects.filter(status="READY").update(status="RUNNING", started_at=timezone.now() - timedelta(hours=1))
    workers = start_workers()
    try:
        assert receiver.wait_for(lambda requests: len(requests) == 1), "the abandoned delivery was never made"
    finally:
        workers.send_signal(signal.SIGTERM)
        workers.wait(timeout=60)


def test_the_payout_worker_refuses_asynchronous_commits(db):
    env = {**os.environ, "DATABASE_URL": running_test_database_url(), "TASK_WORKER_ASYNC_COMMIT": "1"}
    refused = subprocess.run(
        [sys.executable, "manage.py", "process_payouts", "--once"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "synchronous_commit is off" in refused.stderr
    del env["TASK_WORKER_ASYNC_COMMIT"]
    ran = subprocess.run(
        [sys.executable, "manage.py", "process_payouts", "--once"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
