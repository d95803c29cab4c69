"""The API's write path in two checkouts, in one run: what a change (new indexes, say) costs each write.

    flock /tmp/bench.lock .venv/bin/python -m bench.write_compare --baseline-tree /tmp/before \\
        --baseline-db postgres://postgres@127.0.0.1:5432/issue16_api_before \\
        --db postgres://postgres@127.0.0.1:5432/issue16_api_after [--rounds 6 --duration 3]

Two gunicorn servers (2 workers each, production settings), this tree on --db and the baseline tree on
--baseline-db (each database migrated by its own tree, and seeded by bench/run.py's seed), both up for the
whole run. Each round runs every write scenario of bench/run.py against both, the order alternating, so
a neighbour's load lands on both alike. Reported: req/s per scenario and side (median over rounds), and
this tree's req/s as a ratio to the baseline's (median, and the range of the per-round ratios).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench import run as base  # sets the bench's environment (bench/env.py)

SEED = "import json; from bench import run; run.setup_django(); print(json.dumps(run.seed()))"


def seed(tree: Path, database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(tree)}
    output = subprocess.run([sys.executable, "-c", SEED], cwd=tree, env=env, capture_output=True, text=True)
    if output.returncode:
        sys.exit(output.stderr)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-tree", required=True)
    parser.add_argument("--baseline-db", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    base.require_wrk()
    sides = {"baseline": (Path(args.baseline_tree).resolve(), args.baseline_db), "this": (base.ROOT, args.db)}
    servers, scenarios = {}, {}
    try:
        for side, (tree, database_url) in sides.items():
            data = seed(tree, database_url)
            port = base.free_port()
            env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(tree)}
            env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
            servers[side] = base.start_server("payoutsite.wsgi", port, 2, env, tree=tree)
            url = f"http://127.0.0.1:{port}"
            payees = data["payees"]
            scenarios[side] = {
                "POST /customers": (f"{url}/customers", data["write_key"], base.CUSTOMER_BODY),
                "POST /customers/{id}/bank-accounts": (
                    url,
                    data["write_key"],
                    lambda payees=payees: base.bank_account_script(payees),
                ),
                "POST /payouts": (url, data["write_key"], lambda payees=payees: base.payout_script(payees)),
            }
        results = {name: {side: [] for side in sides} for name in scenarios["this"]}
        for side in sides:  # warm-up
            for url, key, body in scenarios[side].values():
                base.run_wrk(url, duration=1, connections=args.connections, key=key, post_body=body)
        for round_number in range(args.rounds):
            order = list(sides) if round_number % 2 == 0 else list(sides)[::-1]
            for name in results:
                for side in order:
                    url, key, body = scenarios[side][name]
                    outcome = base.run_wrk(
                        url, duration=args.duration, connections=args.connections, key=key, post_body=body
                    )
                    results[name][side].append(outcome["rps"])
            print(f"round {round_number + 1}/{args.rounds}", flush=True)
    finally:
        for server in servers.values():
            server.terminate()
            server.wait()
    print("\n| scenario | baseline req/s | this req/s | ratio (median) | per-round ratios |\n|---|---:|---:|---:|---|")
    for name, by_side in results.items():
        ratios = [t / b for t, b in zip(by_side["this"], by_side["baseline"], strict=True)]
        print(
            f"| {name} | {statistics.median(by_side['baseline']):.0f} | {statistics.median(by_side['this']):.0f} | "
            f"{statistics.median(ratios):.3f} | {min(ratios):.2f}–{max(ratios):.2f} |"
        )


if __name__ == "__main__":
    main()
