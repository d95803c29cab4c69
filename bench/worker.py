"""Payout worker throughput on the sandbox rail, against PostgreSQL: payouts settled per second with 1 and
2 worker processes, beside a bare baseline in the same run (the same rows moved to paid by plain batched
UPDATEs, no rail, no events, no locking).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench .venv/bin/python -m bench.worker --payouts 20000

Target: >= 500 payouts/s with one worker. Writes bench/results/worker.json.
"""

import argparse
import json
import multiprocessing
import time
from decimal import Decimal
from pathlib import Path

from bench.env import configure

ROOT = Path(__file__).resolve().parents[1]
configure()


def seed_pending(count: int) -> None:
    from core import crypto
    from customers.tests.factories import make_cbu
    from merchants.models import Merchant
    from payouts.models import Payout

    merchant = Merchant.objects.filter(name="bench-worker").first() or Merchant.objects.create(name="bench-worker")
    # A scratch database: payouts other benches left pending would be counted too.
    Payout.objects.filter(status__in=["pending", "processing"]).update(status="canceled")
    number = make_cbu()
    fields = {
        "merchant": merchant,
        "livemode": False,
        "amount": Decimal("100.00"),
        "destination_ciphertext": crypto.encrypt(number),
        "destination_key_id": crypto.primary_key_id(),
        "destination_fingerprint": crypto.fingerprint(number),
        "destination_last4": number[-4:],
    }
    Payout.objects.bulk_create([Payout(**fields) for _ in range(count)], batch_size=2000)


def drain(batch_size: int, start, done) -> None:
    from django.db import connections

    from payouts.worker import PayoutWorker

    connections.close_all()  # a fresh connection per process
    start.wait()
    stats = PayoutWorker(batch_size=batch_size).run_once()
    done.put(stats.settled)


def timed_workers(workers: int, payouts: int, batch_size: int) -> dict:
    from django.db import connections

    seed_pending(payouts)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, done = context.Event(), context.Queue()
    processes = [context.Process(target=drain, args=(batch_size, start, done)) for _ in range(workers)]
    for process in processes:
        process.start()
    time.sleep(0.5)  # let every process connect before the clock starts
    began = time.perf_counter()
    start.set()
    settled = sum(done.get() for _ in processes)
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    return {"workers": workers, "settled": settled, "seconds": elapsed, "per_second": settled / elapsed}


def timed_bare(payouts: int, batch_size: int) -> dict:
    """The least work for the same outcome: pending rows to paid, batch by batch, in plain UPDATEs."""
    from django.db import transaction

    from payouts.models import Payout

    seed_pending(payouts)
    began = time.perf_counter()
    settled = 0
    while True:
        with transaction.atomic():
            ids = list(Payout.objects.filter(status="pending").order_by("id").values_list("id", flat=True)[:batch_size])
            if not ids:
                break
            settled += Payout.objects.filter(id__in=ids).update(status="paid")
    elapsed = time.perf_counter() - began
    return {"workers": 0, "settled": settled, "seconds": elapsed, "per_second": settled / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payouts", type=int, default=20_000, help="payouts per measurement (default 20000)")
    parser.add_argument("--batch-size", type=int, default=200, help="worker batch size (default 200)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = [
        timed_bare(args.payouts, args.batch_size),
        timed_workers(1, args.payouts, args.batch_size),
        timed_workers(2, args.payouts, args.batch_size),
    ]
    for result in results:
        label = "bare UPDATEs" if result["workers"] == 0 else f"{result['workers']} worker(s)"
        print(
            f"{label:<14} {result['settled']:>7} payouts in {result['seconds']:6.2f} s = {result['per_second']:7.0f}/s"
        )
    bare = results[0]["per_second"]
    for result in results[1:]:
        print(f"{result['per_second'] / bare:6.2f}  {result['workers']} worker(s) vs bare UPDATEs")
    target = "met" if results[1]["per_second"] >= 500 else "NOT met"
    print(f"one worker: {results[1]['per_second']:.0f}/s (target >= 500/s: {target})")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "worker.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
