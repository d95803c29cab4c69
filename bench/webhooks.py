"""Webhook deliveries per second to a local receiver that answers at once, with 1 and 2 task workers:
api_N, events as the API makes them (each its own fan-out task), batch_N, as the payout worker makes them
(200 events per fan-out task).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench .venv/bin/python -m bench.webhooks

Each run enqueues --deliveries deliveries in one transaction while the task workers (`manage.py
db_worker`, started as run_workers starts them: asynchronous commits) are already idle, and times from
that commit until every delivery has succeeded. Baseline, same run: the same signed POSTs sent by one
process in a loop through the same sender (events.sending), with no database and no task engine: the
ceiling of the wire and the receiver here.
The receiver is a bare asyncio server in its own process. Production settings (bench/env.py).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import run as base

ROOT = Path(__file__).resolve().parents[1]

RECEIVER = r"""
import asyncio, sys

async def handle(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:  # the readiness probe connects and leaves
        writer.close()
        return
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def start_receiver() -> tuple[subprocess.Popen, str]:
    port = base.free_port()
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            asyncio.run(asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1))
            return process, f"http://127.0.0.1:{port}/hooks"
        except OSError:
            time.sleep(0.05)
    sys.exit("the receiver did not start")


def enqueue(endpoint, count: int, per_task: int) -> None:
    """count events and their fan-out tasks, per_task events each, committed together: 1 is how the API's
    events come (one per request), 200 how the payout worker's come (one batch of transitions)."""
    import orjson
    from django.db import transaction

    from events import tasks
    from events.models import Event
    from events.services import enqueue_now

    with transaction.atomic():
        events = Event.objects.bulk_create(
            [
                Event(
                    merchant_id=endpoint.merchant_id,
                    livemode=False,
                    type="payout.paid",
                    data=orjson.dumps({"object": {"payoutId": f"po_{i:024d}"}, "previousAttributes": {}}).decode(),
                )
                for i in range(count)
            ]
        )
        ids = [event.public_id for event in events]
        for start in range(0, count, per_task):
            enqueue_now(tasks.fan_out, ids[start : start + per_task])  # as the API's batch does: due now


def wait_until_delivered(total: int) -> None:
    from events.models import Delivery

    while Delivery.objects.filter(status="succeeded").count() < total:
        time.sleep(0.05)


def start_task_workers(count: int) -> list[subprocess.Popen]:
    command = [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval", "0.05"]
    command += ["--no-reload", "--no-startup-delay"]
    env = {**os.environ, "LOG_LEVEL": "WARNING", "TASK_WORKER_ASYNC_COMMIT": "1"}  # as run_workers starts them
    workers = [subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL) for _ in range(count)]
    time.sleep(3)  # Django's start-up, before the clock starts: this is not synchronisation, only warm-up
    return workers


def deliveries_per_second(endpoint, workers: int, count: int, per_task: int) -> float:
    from events.models import Delivery

    done = Delivery.objects.filter(status="succeeded").count()
    processes = start_task_workers(workers)
    try:
        started = time.monotonic()
        enqueue(endpoint, count, per_task)
        wait_until_delivered(done + count)
        return count / (time.monotonic() - started)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


def raw_posts_per_second(endpoint, count: int) -> float:
    import orjson

    from events.delivering import _headers
    from events.sending import post

    body = orjson.dumps({"eventId": "evt_x", "type": "payout.paid", "data": {"object": {"amount": "5000.00"}}})
    started = time.monotonic()
    for _ in range(count):
        answer = post(endpoint.url, body, _headers(endpoint, "evt_x", body), livemode=False, timeout=10)
        assert answer.succeeded, answer
    return count / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=3000, help="deliveries per run (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each: baseline, 1 worker, 2 workers")
    args = parser.parse_args()
    base.setup_django()
    from core.scope import Scope
    from events.services import endpoint_create
    from merchants.models import Merchant

    receiver, url = start_receiver()
    merchant = Merchant.objects.create(name="bench-webhooks")
    endpoint, _secret = endpoint_create(scope=Scope(merchant.pk, False), url=url, enabled_events=["*"])
    runs = {"api_1": (1, 1), "api_2": (2, 1), "batch_1": (1, 200), "batch_2": (2, 200)}
    results: dict[str, list[float]] = {"raw_posts": []} | {name: [] for name in runs}
    try:
        for round_number in range(args.rounds):
            results["raw_posts"].append(raw_posts_per_second(endpoint, args.deliveries))
            for name, (workers, per_task) in runs.items():
                results[name].append(deliveries_per_second(endpoint, workers, args.deliveries, per_task))
            print(
                f"round {round_number + 1}/{args.rounds}: "
                + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in results.items())
            )
    finally:
        receiver.terminate()
    raw = statistics.median(results["raw_posts"])
    print(f"\n{'scenario':<12} {'per second':>11} {'vs raw':>7}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:<12} {median:>11.0f} {median / raw:>7.2f}")


if __name__ == "__main__":
    main()
