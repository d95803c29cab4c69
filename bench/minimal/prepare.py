"""Create (if missing), migrate and seed the minimal baseline's database: run by bench/run.py in a process
of its own, since this one is configured with bench.minimal.settings rather than the project's.

    MINIMAL_DATABASE_URL=postgres://…/payouts_bench_minimal python -m bench.minimal.prepare --rows 200000
"""

import argparse
import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.minimal.settings"


def create_database(url: str) -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(url)
    server = psycopg2.connect(
        dbname="postgres",
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
    )
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000, help="customers of the merchant to page through")
    args = parser.parse_args()
    create_database(os.environ["MINIMAL_DATABASE_URL"])

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", run_syncdb=True, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM minimal_customer")
        have = cursor.fetchone()[0]
        if have < args.rows:
            print(f"seeding {args.rows - have} minimal customers…", flush=True)
            cursor.execute(
                """
                INSERT INTO minimal_customer (public_id, merchant_id, livemode, type, name, email, country, metadata,
                    external_id, created_at, verification_status, verification_reason)
                SELECT 'cust_' || md5(random()::text || i)::varchar(24), %s, false, 'individual', 'Customer ' || i,
                    'c' || i || '@example.com', 'AR', jsonb_build_object('ref', 'R-' || i), '',
                    date_trunc('second', now()), 'unverified', ''
                  FROM generate_series(%s, %s) AS i
                """,
                [settings.MINIMAL_MERCHANT_ID, have, args.rows - 1],
            )
        cursor.execute("VACUUM ANALYZE minimal_customer")
        cursor.execute("VACUUM ANALYZE minimal_payout")


if __name__ == "__main__":
    main()
