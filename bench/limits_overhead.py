"""What limits cost POST /payouts: a merchant with all three limits set against one with none, same server,
same run, rounds interleaved; optionally the tree before limits too (what the always-sent statement costs
a merchant without limits).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench_limits \\
        flock /tmp/bench.lock .venv/bin/python -m bench.limits_overhead --duration 5 --rounds 3 \\
        [--baseline-tree /tmp/before-limits]    # e.g. git archive <commit before limits> | tar -x -C …

Scenarios (each POST /payouts with a new Idempotency-Key, to a saved customer's default account, --payees
customers in turn):
- payout_no_limits: a merchant without limits (limits_consume() finds none and returns);
- payout_limits: a merchant with a single, a daily and a per-customer limit, high enough never to refuse
  (every payout checks and adds to the day's counter and its customer's, under their row locks);
- base_payout (with --baseline-tree): the merchant without limits, served by the tree before limits.
Needs PostgreSQL and `wrk`.
"""

import os
from decimal import Decimal
from pathlib import Path

from bench import run as base

HIGH = Decimal("999999999999.99")  # never reached in a bench run


def merchant_with_payees(name: str, count: int) -> tuple:
    from core.scope import Scope
    from customers.accounts import parse_account_number
    from customers.services import bank_account_add, customer_create
    from customers.tests.factories import make_cbu
    from merchants.models import Merchant
    from merchants.services import api_key_issue

    merchant = Merchant.objects.create(name=name)
    scope = Scope(merchant.pk, False)
    payees = []
    for i in range(count):
        payee = customer_create(scope=scope, type="individual", name=f"Payee {i}", country="AR").public_id
        number = parse_account_number(make_cbu(account=f"{i + 1:013d}"))
        bank_account_add(scope=scope, customer_id=payee, account_type="savings", holder_name="P", account_number=number)
        payees.append(payee)
    return merchant, api_key_issue(merchant=merchant, livemode=False).secret, payees


def set_high_limits(merchant) -> None:
    from django.contrib.auth import get_user_model

    from limits.services import limits_set

    admin = get_user_model().objects.create_user(f"bench-admin-{merchant.pk}")
    values = {"single_max": HIGH, "daily_max": HIGH, "customer_daily_max": HIGH}
    limits_set(merchant=merchant, livemode=False, values=values, by=admin)


def main() -> None:
    parser = base.load_parser(__doc__)
    parser.add_argument("--baseline-tree", type=Path, help="a checkout of the code before limits (optional)")
    parser.add_argument(
        "--payees",
        type=int,
        default=50,
        help="customers paid in turn (default 50): the fewer, the more payouts each has in its last 24 hours, "
        "which the velocity hold reads on every payout",
    )
    args = parser.parse_args()
    base.require_wrk()
    base.setup_django()
    _, free_key, free_payees = merchant_with_payees("bench-no-limits", args.payees)
    limited, limited_key, limited_payees = merchant_with_payees("bench-limits", args.payees)
    set_high_limits(limited)
    port = base.free_port()
    api = f"http://127.0.0.1:{port}"
    scenarios = {
        "payout_no_limits": (api, free_key, lambda: base.payout_script(free_payees)),
        "payout_limits": (api, limited_key, lambda: base.payout_script(limited_payees)),
    }
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    servers = [base.start_server("payoutsite.wsgi", port, args.workers, env)]
    postmaster = base.postmaster_pid()
    tree_of = dict.fromkeys(scenarios, servers[0])
    if args.baseline_tree:
        base_port = base.free_port()
        servers.append(
            base.start_server("payoutsite.wsgi", base_port, args.workers, env, tree=args.baseline_tree.resolve())
        )
        scenarios["base_payout"] = (f"http://127.0.0.1:{base_port}", free_key, lambda: base.payout_script(free_payees))
        tree_of["base_payout"] = servers[1]
    results: dict[str, list[dict]] = {name: [] for name in scenarios}
    try:
        for url, key, body in scenarios.values():
            base.run_wrk(url, duration=1, connections=args.connections, key=key, post_body=body)
        names = list(scenarios)
        for round_number in range(args.rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                url, key, body = scenarios[name]
                base.checkpoint()
                results[name].append(
                    base.run_wrk(
                        url,
                        duration=args.duration,
                        connections=args.connections,
                        key=key,
                        post_body=body,
                        cpu_of=[tree_of[name].pid, postmaster],
                    )
                )
            figures = ", ".join(f"{name} {runs[-1]['rps']:.0f}" for name, runs in results.items())
            print(f"round {round_number + 1}/{args.rounds} (req/s): {figures}", flush=True)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait()
    print("\nagainst the merchant without limits (this tree):")
    base.print_versus(results, "payout_no_limits")
    if args.baseline_tree:
        print("\nagainst the baseline tree (--baseline-tree):")
        base.print_versus(results, "base_payout")


if __name__ == "__main__":
    main()
