"""What events cost POST /payouts: this tree against the tree before events, same run, rounds interleaved.

    git worktree add /tmp/before-events fa6cbf2     # the last commit before events
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench \\
        .venv/bin/python -m bench.events_overhead --baseline-tree /tmp/before-events

Scenarios (each POST /payouts with a new Idempotency-Key, to a saved customer's default account):
- base_payout: the baseline tree (no events), the bench's writer merchant;
- api_payout: this tree, the same merchant, no webhook endpoint (the event row only);
- api_payout_hooks: this tree, a merchant with an endpoint listening for every type (the event row and its
  fan-out task). No task worker runs: the cost measured is the request's.
Both trees serve the same database (this tree's migrations; the baseline never touches the new tables).
Needs PostgreSQL and `wrk`.
"""

import os
from pathlib import Path

from bench import run as base


def hooked_payees() -> tuple[str, list[str]]:
    """A merchant with 50 payees and an endpoint listening for every event type; its key."""
    from core.scope import Scope
    from customers.accounts import parse_account_number
    from customers.services import bank_account_add, customer_create
    from customers.tests.factories import make_cbu
    from events.services import endpoint_create
    from merchants.models import Merchant
    from merchants.services import api_key_issue

    merchant = Merchant.objects.create(name="bench-hooks")
    scope = Scope(merchant.pk, False)
    endpoint_create(scope=scope, url="http://127.0.0.1:9/hooks", enabled_events=["*"])
    payees = []
    for i in range(50):
        payee = customer_create(scope=scope, type="individual", name=f"Payee {i}", country="AR").public_id
        number = parse_account_number(make_cbu(account=f"{i + 1:013d}"))
        bank_account_add(scope=scope, customer_id=payee, account_type="savings", holder_name="P", account_number=number)
        payees.append(payee)
    return api_key_issue(merchant=merchant, livemode=False).secret, payees


def main() -> None:
    parser = base.load_parser(__doc__)
    parser.add_argument("--baseline-tree", type=Path, required=True, help="a checkout of the code before events")
    args = parser.parse_args()
    base.require_wrk()
    base.setup_django()
    data = base.seed()
    hooks_key, hooks_payees = hooked_payees()
    port, base_port = base.free_port(), base.free_port()
    api, tree_api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{base_port}"
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    servers = [
        base.start_server("payoutsite.wsgi", port, args.workers, env),
        base.start_server("payoutsite.wsgi", base_port, args.workers, env, tree=args.baseline_tree.resolve()),
    ]
    postmaster = base.postmaster_pid()
    scenarios = {
        "base_payout": (tree_api, data["write_key"], lambda: base.payout_script(data["payees"]), servers[1]),
        "api_payout": (api, data["write_key"], lambda: base.payout_script(data["payees"]), servers[0]),
        "api_payout_hooks": (api, hooks_key, lambda: base.payout_script(hooks_payees), servers[0]),
    }
    results: dict[str, list[dict]] = {name: [] for name in scenarios}
    try:
        for url, key, body, _ in scenarios.values():
            base.run_wrk(url, duration=1, connections=args.connections, key=key, post_body=body)
        names = list(scenarios)
        for round_number in range(args.rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                url, key, body, server = scenarios[name]
                base.checkpoint()
                run = base.run_wrk(
                    url,
                    duration=args.duration,
                    connections=args.connections,
                    key=key,
                    post_body=body,
                    cpu_of=[server.pid, postmaster],
                )
                results[name].append(run)
            figures = ", ".join(
                f"{name} {runs[-1]['rps']:.0f} ({runs[-1]['cpu_ms']:.2f} ms CPU)" for name, runs in results.items()
            )
            print(f"round {round_number + 1}/{args.rounds} (req/s): {figures}", flush=True)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait()
    base.print_versus(results, "base_payout")


if __name__ == "__main__":
    main()
