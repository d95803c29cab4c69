"""Load benchmark: the API against bare Django baselines, served by gunicorn, loaded by wrk over loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench make bench
    (or: .venv/bin/python -m bench.run --duration 5 --rounds 3)

Each API endpoint is measured as a ratio to a bare view doing the least Django needs for the same
work, in the same run, rounds interleaved (A B A B …) so that a noisy neighbour hits both alike.
Reported: req/s and p50/p99 latency per scenario (median over rounds), and the ratios.
Needs PostgreSQL and `wrk` (apt-get install wrk). Writes bench/results/latest.json.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.env import configure

ROOT = Path(__file__).resolve().parents[1]
configure()

LIST_SIZE = 200_000
WRITER_SIZE = 50_000
DEEP = 190_000
CUSTOMER_BODY = '{"type": "individual", "name": "Bench Customer", "country": "AR", "metadata": {"ref": "b-1"}}'


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed() -> dict:
    """Two merchants: one with LIST_SIZE customers to page through, one to insert into. Fresh keys each run."""
    from core.scope import Scope
    from customers.accounts import parse_account_number
    from customers.models import Customer
    from customers.services import bank_account_add, customer_create
    from customers.tests.factories import make_cbu
    from merchants.models import Merchant
    from merchants.services import api_key_issue

    lister = Merchant.objects.filter(name="bench-list").first() or Merchant.objects.create(name="bench-list")
    writer = Merchant.objects.filter(name="bench-write").first() or Merchant.objects.create(name="bench-write")
    # The writer is an established merchant too: with no rows of its own when the statistics are taken,
    # the planner would take its growing scope for a tiny one mid-run (as a brand-new merchant's is until
    # autovacuum analyzes the table) and read its lookups by id off the scope index.
    seed_customers(lister, LIST_SIZE)
    seed_customers(writer, WRITER_SIZE)
    from django.db import connection

    with connection.cursor() as cursor:
        # Fresh statistics (earlier runs' writes leave them stale, and the planner can then prefer a scope
        # index to a unique one, as autovacuum would have corrected in production), and no autovacuum of
        # the new rows running into the measurements.
        cursor.execute("VACUUM ANALYZE")
    newest_first = Customer.objects.filter(merchant=lister, livemode=False).order_by("-pk")
    payees = [
        customer_create(scope=Scope(writer.pk, False), type="individual", name=f"Payee {i}", country="AR").public_id
        for i in range(50)
    ]
    for i, payee in enumerate(payees):  # each with a default account, for POST /payouts {customerId}
        number = parse_account_number(make_cbu(account=f"{i + 1:013d}"))
        bank_account_add(
            scope=Scope(writer.pk, False),
            customer_id=payee,
            account_type="savings",
            holder_name="Payee",
            account_number=number,
        )
    deep = newest_first.values("pk", "public_id")[DEEP - 1]
    shallow = newest_first.values("public_id")[49]
    return {
        "list_key": api_key_issue(merchant=lister, livemode=False).secret,
        "write_key": api_key_issue(merchant=writer, livemode=False).secret,
        "lister_pk": lister.pk,
        "writer_pk": writer.pk,
        "deep_pk": deep["pk"],
        "deep_id": deep["public_id"],
        "payees": payees,
        "page2_id": shallow["public_id"],
    }


def seed_customers(merchant, size: int) -> None:
    from core.ids import new_public_id
    from customers.models import Customer

    have = Customer.objects.filter(merchant=merchant, livemode=False).count()
    if have >= size:
        return
    print(f"seeding {size - have} customers of {merchant.name}…", flush=True)
    batch = []
    for i in range(have, size):
        batch.append(
            Customer(
                public_id=new_public_id("cust"),
                merchant=merchant,
                livemode=False,
                type="individual",
                name=f"Customer {i}",
                email=f"c{i}@example.com",
                country="AR",
                metadata={"ref": f"R-{i}"},
            )
        )
        if len(batch) == 5000:
            Customer.objects.bulk_create(batch)
            batch = []
    Customer.objects.bulk_create(batch)


def checkpoint() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")  # needs a superuser, as the bench's throwaway database has


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    app: str, port: int, workers: int, env: dict, config: str | None = None, tree: Path = ROOT
) -> subprocess.Popen:
    """gunicorn serving `app` from `tree` (this one, or --baseline-tree); config None reads the
    tree's ./gunicorn.conf.py (the project's)."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), app, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    if config:
        command += ["-c", config]
    process = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit(f"gunicorn {app} did not start")


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    return start_server("payoutsite.wsgi", port, workers, {**os.environ, "LOG_LEVEL": "WARNING"})


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


# POST /customers/{id}/bank-accounts with a new valid CBU on every request (the same number twice on
# one customer is a 409), spread over the customers in CUSTOMER_PATHS so they do not queue on one row lock.
BANK_ACCOUNT_LUA = """
local function check(digits)
  local weights, sum, n = {3, 1, 7, 9}, 0, #digits
  for i = 0, n - 1 do sum = sum + tonumber(digits:sub(n - i, n - i)) * weights[i % 4 + 1] end
  return tostring((10 - sum % 10) % 10)
end
counter = 0
request = function()
  counter = counter + 1
  local path = CUSTOMER_PATHS[counter % #CUSTOMER_PATHS + 1]
  local block1, account = "2850590", string.format("%013d", OFFSET + counter)
  local number = block1 .. check(block1) .. account .. check(account)
  local body = '{"country": "AR", "currency": "ARS", "rail": "OTHER", "accountType": "savings", '
    .. '"holderName": "Bench Holder", "accountNumber": "' .. number .. '", "metadata": {"cuit": "20221370075"}}'
  local headers = {["Content-Type"] = "application/json"}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", path, headers, body)
end
"""
# Account numbers start at a random block each run: numbers repeated from an earlier run (on that run's
# payees) would make every add a cross-customer duplicate, the rare path, instead of the common one.
_offsets = iter(range(secrets.randbelow(10**6) * 10**6, 10**13, 10**6))
RUN_ID = secrets.token_hex(4)  # idempotency keys never repeat across runs


# POST /payouts to a customer's default account, each request with a new Idempotency-Key.
PAYOUT_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local customer = CUSTOMERS[counter % #CUSTOMERS + 1]
  local body = '{"amount": "5000.00", "currency": "ARS", "customerId": "' .. customer .. '"}'
  local key = "bench-" .. RUN .. "-" .. OFFSET .. "-" .. counter
  local headers = {["Content-Type"] = "application/json", ["Idempotency-Key"] = key}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", "/payouts", headers, body)
end
"""


def payout_script(customer_ids: list[str]) -> str:
    customers = ", ".join(f'"{cid}"' for cid in customer_ids)
    return f'CUSTOMERS = {{{customers}}}\nOFFSET = {next(_offsets)}\nRUN = "{RUN_ID}"\n' + PAYOUT_LUA


def bank_account_script(customer_ids: list[str]) -> str:
    paths = ", ".join(f'"/customers/{cid}/bank-accounts"' for cid in customer_ids)
    return f"CUSTOMER_PATHS = {{{paths}}}\nOFFSET = {next(_offsets)}\n" + BANK_ACCOUNT_LUA


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> list[int]:
    """The process and every process under it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue  # exited meanwhile
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU each process has used so far (processes gone are left out)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return used


def postmaster_pid() -> int:
    """The bench database server's postmaster: the parent of this connection's backend (a local server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


def run_wrk(
    url: str, *, duration: int, connections: int, key: str | None, post_body, cpu_of: list[int] | None = None
) -> dict:
    """post_body: None (GET), a JSON string (the same POST each time) or a callable giving a Lua script.

    cpu_of: root processes (a gunicorn master, the postmaster) whose trees' CPU time is measured over the
    run, reported per request (cpu_ms): on a shared machine, what a request costs, whoever else is busy."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if key:
        command += ["-H", f"Authorization: Bearer {key}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if callable(post_body):
            script.write(post_body())
        elif post_body is not None:
            script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(post_body)}\n')
            script.write('wrk.headers["Content-Type"] = "application/json"\n')
        script.write(
            "done = function(summary, latency, requests)\n"
            '  io.write(string.format("errors %d %d\\n", summary.errors.status, summary.requests))\n'
            "end\n"
        )
    trees = {root: descendants(root) for root in cpu_of or []}
    before = cpu_seconds([pid for pids in trees.values() for pid in pids])
    output = subprocess.run([*command, "-s", script.name, url], capture_output=True, text=True, check=True).stdout
    after = cpu_seconds([pid for pids in trees.values() for pid in pids])
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {p: float(v) * UNITS[u] for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", output)}
    bad, total = map(int, re.search(r"errors (\d+) (\d+)", output).groups())
    if bad:
        sys.exit(f"{url}: {bad} of {total} responses were not 2xx/3xx")
    # Per root (the server's tree, PostgreSQL's) and in all; a process started during the run is left out.
    cpu_by_root = [
        sum(after[pid] - before.get(pid, 0.0) for pid in pids if pid in after) * 1000 / total for pids in trees.values()
    ]
    cpu_ms = sum(cpu_by_root) if trees else None
    return {"rps": rps, "p50_ms": latency["50"], "p99_ms": latency["99"], "cpu_ms": cpu_ms, "cpu_by_root": cpu_by_root}


def load_parser(description: str) -> argparse.ArgumentParser:
    """The options every load benchmark takes (this one and bench/minimal_run.py)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per scenario (default 3)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--only", default="", help="comma-separated scenario names to run (default: all)")
    return parser


def require_wrk() -> None:
    if not shutil.which("wrk"):
        sys.exit("bench needs wrk: apt-get install wrk")


def main() -> None:
    args = load_parser(__doc__).parse_args()
    require_wrk()

    setup_django()
    data = seed()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    scenarios = {
        "api_post": (f"{base}/customers", data["write_key"], CUSTOMER_BODY),
        "bare_insert": (f"{base}/bare/insert?merchant={data['writer_pk']}", None, CUSTOMER_BODY),
        "api_page_deep": (f"{base}/customers?limit=50&startingAfter={data['deep_id']}", data["list_key"], None),
        "bare_page_deep": (f"{base}/bare/page?merchant={data['lister_pk']}&after={data['deep_id']}", None, None),
        "api_page_first": (f"{base}/customers?limit=50", data["list_key"], None),
        "api_page_2": (f"{base}/customers?limit=50&startingAfter={data['page2_id']}", data["list_key"], None),
        "api_bank_account_post": (base, data["write_key"], lambda: bank_account_script(data["payees"])),
        "api_payout_post": (base, data["write_key"], lambda: payout_script(data["payees"])),
    }
    if args.only:
        scenarios = {name: scenario for name, scenario in scenarios.items() if name in args.only.split(",")}
    server = start_gunicorn(port, args.workers)
    results: dict[str, list[dict]] = {name: [] for name in scenarios}
    results |= {"api_page_first_alone": [], "api_page_deep_alone": []}
    try:
        for url, key, body in scenarios.values():  # warm-up: connections, caches, imports
            run_wrk(url, duration=1, connections=args.connections, key=key, post_body=body)
        # Reads first, then writes: each group's rounds interleave its scenarios, and the rows the writes
        # leave behind (and the vacuum they trigger) cannot land in the middle of the read measurements.
        reads = [name for name, scenario in scenarios.items() if scenario[2] is None]
        writes = [name for name in scenarios if name not in reads]
        for group in (reads, writes):
            for round_number in range(args.rounds if group else 0):
                # The order rotates each round, so no scenario always follows the heaviest writer; and a
                # checkpoint before each write run, so none pays for the previous one's dirty pages.
                shift = round_number % len(group)
                for name in group[shift:] + group[:shift]:
                    url, key, body = scenarios[name]
                    if group is writes:
                        checkpoint()
                    results[name].append(
                        run_wrk(url, duration=args.duration, connections=args.connections, key=key, post_body=body)
                    )
                print(f"{'reads' if group is reads else 'writes'}: round {round_number + 1}/{args.rounds}", flush=True)
        # The time of one page on its own: a single connection, so no queueing inflates the difference.
        for _ in range(args.rounds):
            for name in ("api_page_first", "api_page_deep"):
                if name in scenarios:
                    url, key, _ = scenarios[name]
                    results[f"{name}_alone"].append(
                        run_wrk(url, duration=args.duration, connections=1, key=key, post_body=None)
                    )
    finally:
        server.terminate()
        server.wait()

    print_report(results, args)


def print_report(results: dict[str, list[dict]], args) -> None:
    summary = {
        name: {metric: statistics.median(run[metric] for run in runs) for metric in ("rps", "p50_ms", "p99_ms")}
        for name, runs in results.items()
        if runs
    }
    pairs = {
        "POST /customers vs bare insert (req/s, target >= 0.70)": ("api_post", "bare_insert", "rps"),
        "POST /customers/{id}/bank-accounts vs bare insert (req/s, target >= 0.60)": (
            "api_bank_account_post",
            "bare_insert",
            "rps",
        ),
        "POST /payouts with Idempotency-Key vs bare insert (req/s, target >= 0.50)": (
            "api_payout_post",
            "bare_insert",
            "rps",
        ),
        "GET /customers deep vs bare page (req/s, target >= 0.80)": ("api_page_deep", "bare_page_deep", "rps"),
        "GET /customers depth 190,000 vs first page, one at a time (p50 time, target <= 1.20)": (
            "api_page_deep_alone",
            "api_page_first_alone",
            "p50_ms",
        ),
        "GET /customers depth 190,000 vs first page, under load (p50 time)": (
            "api_page_deep",
            "api_page_first",
            "p50_ms",
        ),
        "GET /customers depth 190,000 vs page 2, both with a cursor (p50 time)": (
            "api_page_deep",
            "api_page_2",
            "p50_ms",
        ),
    }
    ratios = {
        label: summary[a][metric] / summary[b][metric]
        for label, (a, b, metric) in pairs.items()
        if a in summary and b in summary
    }
    print(f"\n{'scenario':<16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in summary.items():
        print(f"{name:<16} {values['rps']:>9.0f} {values['p50_ms']:>8.2f} {values['p99_ms']:>8.2f}")
    print()
    for label, ratio in ratios.items():
        print(f"{ratio:6.2f}  {label}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    report = {"args": vars(args), "summary": summary, "ratios": ratios, "rounds": results}
    (out / "latest.json").write_text(json.dumps(report, indent=2))


def print_versus(results: dict[str, list[dict]], baseline: str) -> None:
    """Each scenario against the baseline: medians of req/s and CPU per request (gunicorn's and PostgreSQL's
    processes), and the median of the per-round ratios (rounds are interleaved, so a neighbour's load lands
    on both sides of a round alike). CPU per request is given as baseline's over this one's (above 1:
    cheaper): on a saturated machine throughput is cores over CPU per request, and a busy neighbour moves
    it less than it moves req/s. Where each run measured two trees (cpu_of: the server, then PostgreSQL),
    their medians are shown apart too: where a difference is spent."""
    base_runs = results[baseline]
    split = all(len(r.get("cpu_by_root", [])) == 2 for runs in results.values() for r in runs)
    header = f"\n{'scenario':<18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs base':>8} {'CPU ms':>8} {'vs base':>8}"
    print(header + (f" {'app ms':>8} {'db ms':>8}" if split else ""))
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["p50_ms"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        rps_ratio = statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, base_runs, strict=True))
        cpu_ratio = statistics.median(b["cpu_ms"] / r["cpu_ms"] for r, b in zip(runs, base_runs, strict=True))
        line = f"{name:<18} {rps:>8.0f} {p50:>8.2f} {p99:>8.2f} {rps_ratio:>8.2f} {cpu:>8.3f} {cpu_ratio:>8.2f}"
        if split:  # CPU per request in the server's processes and in PostgreSQL's, apart
            app, database = (statistics.median(r["cpu_by_root"][i] for r in runs) for i in (0, 1))
            line += f" {app:>8.3f} {database:>8.3f}"
        print(line)


if __name__ == "__main__":
    main()
