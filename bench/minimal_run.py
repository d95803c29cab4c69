"""The API against two baselines in one run: the project's own bare views, and a framework-minimal Django.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench .venv/bin/python -m bench.minimal_run \
        --duration 5 --rounds 3

Two gunicorn servers (2 sync workers each, started the same way), loaded by wrk over loopback, rounds
interleaved (A B C A B C …, the order rotating each round):

- the project (payoutsite.wsgi with bench.minimal_run_settings: production settings and middleware, the
  API, and bench/ bare views that insert one row or answer one page in the project's own tables, with their
  audit triggers and indexes), read with the project's gunicorn.conf.py as in production;
- bench/minimal/: `startproject`'s defaults (Django's default middleware), two tables with the same columns
  as customers_customer and payouts_payout but a primary key only and no triggers, in a database of its own
  (<DATABASE_URL's name>_minimal, created and seeded here) on the same PostgreSQL, gunicorn's defaults.

Reported per endpoint: req/s, p50/p99 (median over rounds), and the API's req/s as a ratio to each baseline
(median, and the range over the rounds: round i of one against round i of the other). Both servers' stdout
(the project's access log) goes to /dev/null. Reuses bench/run.py's seed and wrk helpers. Writes
bench/results/minimal.json.
"""

import json
import os
import statistics
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from bench import run as base  # sets the bench's environment (bench/env.py)

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.minimal_run_settings"

ROOT = base.ROOT
MINIMAL_KEY = "sk_test_minimal_" + "m" * 32
PAYOUT_BODY = '{"amount": "5000.00", "currency": "ARS", "customerId": "%s"}'

# POST a payout to one of CUSTOMERS (each with a default account), no Idempotency-Key.
PAYOUT_NO_KEY_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local customer = CUSTOMERS[counter % #CUSTOMERS + 1]
  local body = '{"amount": "5000.00", "currency": "ARS", "customerId": "' .. customer .. '"}'
  local headers = {["Content-Type"] = "application/json"}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", PATH, headers, body)
end
"""


def payout_no_key_script(path: str, customer_ids: list[str]) -> str:
    customers = ", ".join(f'"{cid}"' for cid in customer_ids)
    return f"CUSTOMERS = {{{customers}}}\nPATH = {json.dumps(path)}\n" + PAYOUT_NO_KEY_LUA


def minimal_database_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_minimal"))


def prepare_minimal(env: dict, rows: int) -> None:
    subprocess.run([sys.executable, "-m", "bench.minimal.prepare", "--rows", str(rows)], cwd=ROOT, env=env, check=True)


# endpoint label, API scenario, project bare scenario, minimal scenario, target vs minimal
ENDPOINTS = [
    ("POST /customers", "api_post", "bare_insert", "min_insert", 0.60),
    ("GET /customers?limit=50", "api_page_first", "bare_page_first", "min_page_first", 0.65),
    ("GET /customers depth 190,000", "api_page_deep", "bare_page_deep", "min_page_first", None),
    ("POST /payouts, no Idempotency-Key", "api_payout", "bare_payout", "min_payout", 0.45),
    ("POST /payouts, no key (vs bare customer insert)", "api_payout", "bare_insert", "min_payout", None),
    ("POST /payouts with Idempotency-Key", "api_payout_key", "bare_insert", "min_payout", None),
    ("project bare customer insert", "bare_insert", None, "min_insert", None),
    ("project bare page", "bare_page_first", None, "min_page_first", None),
    ("project bare payout insert", "bare_payout", None, "min_payout", None),
    # With --baseline-tree: the same API served from another checkout (e.g. `git archive` of the last
    # commit, unpacked in /tmp), in the same run against the same database.
    ("baseline tree: POST /customers", "base_post", "bare_insert", "min_insert", 0.60),
    ("baseline tree: GET /customers?limit=50", "base_page_first", "bare_page_first", "min_page_first", 0.65),
    ("baseline tree: POST /payouts, no Idempotency-Key", "base_payout", "bare_payout", "min_payout", 0.45),
]
# (endpoint, this tree's scenario, the baseline tree's)
TREE_COMPARISONS = [
    ("POST /customers", "api_post", "base_post"),
    ("GET /customers?limit=50", "api_page_first", "base_page_first"),
    ("GET /customers depth 190,000", "api_page_deep", "base_page_deep"),
    ("POST /payouts, no Idempotency-Key", "api_payout", "base_payout"),
]


def main() -> None:
    parser = base.load_parser(__doc__)
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="another checkout of the project (with its own bench/) to serve the API from too, in the same run "
        "(scenarios base_*): a change measured against the code before it",
    )
    args = parser.parse_args()
    base.require_wrk()

    minimal_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.minimal.settings",
        "MINIMAL_DATABASE_URL": minimal_database_url(os.environ["DATABASE_URL"]),
        "MINIMAL_API_KEY": MINIMAL_KEY,
    }
    prepare_minimal(minimal_env, base.LIST_SIZE)
    base.setup_django()
    data = base.seed()
    from customers.models import Customer

    account = Customer.objects.filter(public_id=data["payees"][0]).values_list("default_bank_account", flat=True)[0]
    port, minimal_port = base.free_port(), base.free_port()
    api, minimal = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{minimal_port}"
    payees, write_key, list_key = data["payees"], data["write_key"], data["list_key"]
    bare_payout_path = f"/bare/payout?merchant={data['writer_pk']}&account={account}"
    scenarios = {
        # reads
        "api_page_first": (f"{api}/customers?limit=50", list_key, None),
        "bare_page_first": (f"{api}/bare/page-first?merchant={data['lister_pk']}", None, None),
        "min_page_first": (f"{minimal}/customers?limit=50", MINIMAL_KEY, None),
        "api_page_deep": (f"{api}/customers?limit=50&startingAfter={data['deep_id']}", list_key, None),
        "bare_page_deep": (f"{api}/bare/page?merchant={data['lister_pk']}&after={data['deep_id']}", None, None),
        # writes
        "api_post": (f"{api}/customers", write_key, base.CUSTOMER_BODY),
        "bare_insert": (f"{api}/bare/insert?merchant={data['writer_pk']}", None, base.CUSTOMER_BODY),
        "min_insert": (f"{minimal}/customers", MINIMAL_KEY, base.CUSTOMER_BODY),
        "api_payout": (api, write_key, lambda: payout_no_key_script("/payouts", payees)),
        "bare_payout": (api, None, lambda: payout_no_key_script(bare_payout_path, payees)),
        "min_payout": (minimal, MINIMAL_KEY, lambda: payout_no_key_script("/payouts", payees)),
        "api_payout_key": (api, write_key, lambda: base.payout_script(payees)),
    }
    if args.baseline_tree:
        base_port = base.free_port()
        tree_api = f"http://127.0.0.1:{base_port}"
        scenarios |= {
            "base_page_first": (f"{tree_api}/customers?limit=50", list_key, None),
            "base_page_deep": (f"{tree_api}/customers?limit=50&startingAfter={data['deep_id']}", list_key, None),
            "base_post": (f"{tree_api}/customers", write_key, base.CUSTOMER_BODY),
            "base_payout": (tree_api, write_key, lambda: payout_no_key_script("/payouts", payees)),
        }
    if args.only:
        scenarios = {name: scenario for name, scenario in scenarios.items() if name in args.only.split(",")}
    servers = [
        base.start_server("payoutsite.wsgi", port, args.workers, {**os.environ, "LOG_LEVEL": "WARNING"}),
        base.start_server(
            "bench.minimal.wsgi", minimal_port, args.workers, minimal_env, config="bench/minimal/gunicorn.conf.py"
        ),
    ]
    if args.baseline_tree:
        servers.append(
            base.start_server(
                "payoutsite.wsgi",
                base_port,
                args.workers,
                {**os.environ, "LOG_LEVEL": "WARNING"},
                tree=args.baseline_tree.resolve(),
            )
        )
    results: dict[str, list[dict]] = {name: [] for name in scenarios}
    try:
        for url, key, body in scenarios.values():  # warm-up: connections, caches, imports
            base.run_wrk(url, duration=1, connections=args.connections, key=key, post_body=body)
        reads = [name for name, scenario in scenarios.items() if scenario[2] is None]
        writes = [name for name in scenarios if name not in reads]
        for group in (reads, writes):  # reads first: the writes' rows and vacuums cannot land among them
            for round_number in range(args.rounds if group else 0):
                shift = round_number % len(group)
                for name in group[shift:] + group[:shift]:
                    url, key, body = scenarios[name]
                    if group is writes:
                        base.checkpoint()  # no write run pays for the previous one's dirty pages
                    results[name].append(
                        base.run_wrk(url, duration=args.duration, connections=args.connections, key=key, post_body=body)
                    )
                print(f"{'reads' if group is reads else 'writes'}: round {round_number + 1}/{args.rounds}", flush=True)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait()
    report(results, args)


def _ratio(results, a: str, b: str | None) -> dict | None:
    if not b or not results.get(a) or not results.get(b):
        return None
    per_round = [x["rps"] / y["rps"] for x, y in zip(results[a], results[b], strict=False)]
    return {
        "median": statistics.median(r["rps"] for r in results[a]) / statistics.median(r["rps"] for r in results[b]),
        "low": min(per_round),
        "high": max(per_round),
    }


def report(results: dict[str, list[dict]], args) -> None:
    summary = {
        name: {metric: statistics.median(run[metric] for run in runs) for metric in ("rps", "p50_ms", "p99_ms")}
        for name, runs in results.items()
        if runs
    }
    print(f"\n{'scenario':<16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   req/s by round")
    for name, values in summary.items():
        rounds = " ".join(f"{run['rps']:.0f}" for run in results[name])
        print(f"{name:<16} {values['rps']:>8.0f} {values['p50_ms']:>8.2f} {values['p99_ms']:>8.2f}   {rounds}")

    def cell(ratio):
        return f"{ratio['median']:.2f} ({ratio['low']:.2f}–{ratio['high']:.2f})" if ratio else "-"

    ratios = {}
    print(f"\n{'endpoint':<48} {'vs project bare':>18} {'vs minimal':>18}  target vs minimal")
    for label, api, bare, minimal, target in ENDPOINTS:
        vs_bare, vs_minimal = _ratio(results, api, bare), _ratio(results, api, minimal)
        if not vs_bare and not vs_minimal:
            continue
        ratios[label] = {"api": api, "bare": bare, "minimal": minimal, "vs_bare": vs_bare, "vs_minimal": vs_minimal}
        goal = f">= {target:.2f}" if target else ""
        print(f"{label:<48} {cell(vs_bare):>18} {cell(vs_minimal):>18}  {goal}")
    tree_ratios = {}
    for label, api, baseline in TREE_COMPARISONS:
        if ratio := _ratio(results, api, baseline):
            if not tree_ratios:
                print(f"\n{'endpoint':<48} {'this tree vs baseline tree':>28}")
            tree_ratios[label] = ratio
            print(f"{label:<48} {cell(ratio):>28}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    report = {
        "args": {**vars(args), "baseline_tree": str(args.baseline_tree or "")},
        "summary": summary,
        "ratios": ratios,
        "vs_baseline_tree": tree_ratios,
        "rounds": results,
    }
    (out / "minimal.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
