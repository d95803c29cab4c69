"""What a schema change costs each write, measured inside PostgreSQL: the same INSERT of N rows into
customers, bank accounts and payouts (audit triggers included), rolled back, on two databases, alternating.

    flock /tmp/bench.lock .venv/bin/python -m bench.index_cost \\
        postgres://postgres@127.0.0.1:5432/issue16_api_before postgres://postgres@127.0.0.1:5432/issue16_api_after

Both databases seeded by bench/run.py (its "bench-write" merchant and payees), each migrated by its own
checkout. Reported: microseconds per row (EXPLAIN ANALYZE's execution time, triggers included; median over
rounds) on each, and the difference: what one API write pays for the indexes one side has and the other
has not. No Python and no HTTP in the measurement, so a busy machine disturbs it less than an HTTP run.
"""

import argparse
import statistics
import time

import psycopg2

ROWS = 2000

INSERTS = {
    "customers_customer": """
INSERT INTO customers_customer (public_id, merchant_id, livemode, type, name, email, country, metadata, external_id,
    created_at, verification_status, verification_reason)
SELECT 'cust_' || left(md5(random()::text), 24), m.id, false, 'individual', 'Bench Customer ' || g,
       'c' || g || '@example.com', 'AR', '{{"ref": "b-1"}}', '', now(), 'unverified', ''
FROM generate_series(1, {rows}) g, (SELECT id FROM merchants_merchant WHERE name = 'bench-write') m""",
    "customers_bankaccount": """
INSERT INTO customers_bankaccount (public_id, customer_id, merchant_id, livemode, country, currency, rail,
    account_type, holder_name, account_number_ciphertext, account_number_key_id, account_number_fingerprint,
    account_number_last4, account_kind, entity_code, status, needs_review, review_reason, metadata, created_at,
    details_changed_at)
SELECT 'ba_' || left(md5(random()::text), 24), c.id, c.merchant_id, false, 'AR', 'ARS', 'OTHER', 'savings',
       'Bench Holder', 'x', 'k', md5(random()::text) || md5(random()::text), lpad(mod(g, 10000)::text, 4, '0'), 'cbu',
       '285', 'active', false, '', '{{"cuit": "20221370075"}}', now(), now()
FROM generate_series(1, {rows}) g,
     (SELECT c.id, c.merchant_id FROM customers_customer c JOIN merchants_merchant m ON m.id = c.merchant_id
      WHERE m.name = 'bench-write' ORDER BY c.id DESC LIMIT 1) c""",
    "payouts_payout": """
INSERT INTO payouts_payout (public_id, merchant_id, livemode, customer_public_id, bank_account_public_id, amount,
    currency, destination_ciphertext, destination_key_id, destination_fingerprint, destination_last4, description,
    metadata, status, failure_code, failure_message, created_at, updated_at)
SELECT 'po_' || left(md5(random()::text), 24), b.merchant_id, false, c.public_id, b.public_id, 5000, 'ARS', 'x', 'k',
       b.account_number_fingerprint, b.account_number_last4, '', '{{}}', 'pending', '', '', now(), now()
FROM generate_series(1, {rows}) g,
     (SELECT * FROM customers_bankaccount WHERE account_number_fingerprint <> '' ORDER BY id DESC LIMIT 1) b
     JOIN customers_customer c ON c.id = b.customer_id""",
}


def per_row_us(database_url: str, table: str, rows: int, single: bool) -> float:
    with psycopg2.connect(database_url) as db, db.cursor() as cursor:
        if single:  # one INSERT per row, as the API writes: the round trips are the same on both sides
            statement = INSERTS[table].format(rows=1)
            started = time.perf_counter()
            for _ in range(rows):
                cursor.execute(statement)
            elapsed_us = (time.perf_counter() - started) * 1e6
            db.rollback()
            return elapsed_us / rows
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + INSERTS[table].format(rows=rows))
        (plan,) = cursor.fetchone()
        db.rollback()
    return plan[0]["Execution Time"] * 1000 / rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--single", action="store_true", help="one INSERT statement per row (timed from here)")
    args = parser.parse_args()
    sides = {"before": args.before, "after": args.after}
    for table in INSERTS:
        for side in sides.values():  # warm-up: caches, the GIN pending list's first flush
            per_row_us(side, table, args.rows, args.single)
        times: dict[str, list[float]] = {side: [] for side in sides}
        for round_number in range(args.rounds):
            for side in list(sides) if round_number % 2 == 0 else list(sides)[::-1]:
                times[side].append(per_row_us(sides[side], table, args.rows, args.single))
        before, after = (statistics.median(times[side]) for side in sides)
        print(f"| {table} | {before:.1f} | {after:.1f} | {after - before:+.1f} |", flush=True)


if __name__ == "__main__":
    main()
