"""Migrations that run on a payouts table of millions of rows must not lock it against the API and the worker
for a scan or an index build: indexes are built CONCURRENTLY, CHECKs are added NOT VALID and validated apart."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

# Migrations before this one ran before the table held rows worth protecting (0001 creates it).
FIRST_ON_A_FULL_TABLE = 6


def payouts_migrations() -> list[str]:
    names = [name for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations if app == "payouts"]
    return sorted(name for name in names if int(name[:4]) >= FIRST_ON_A_FULL_TABLE)


def sql_of(name: str) -> str:
    out = StringIO()
    call_command("sqlmigrate", "payouts", name, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)  # sqlmigrate of a non-atomic migration refuses a transaction
@pytest.mark.parametrize("name", payouts_migrations())
def test_no_migration_builds_an_index_or_scans_for_a_check_while_locking_the_payouts_table(name):
    statements = [s.strip() for s in sql_of(name).split(";")]
    for statement in statements:
        if re.search(r'CREATE (UNIQUE )?INDEX\b.* ON "?payouts_payout"? ', statement):
            assert "CONCURRENTLY" in statement, statement
        if re.search(r'ALTER TABLE "?payouts_payout"? ADD CONSTRAINT .* CHECK ', statement):
            assert statement.endswith("NOT VALID"), statement


@pytest.mark.django_db
def test_the_migrated_payouts_table_has_its_status_check_validated_and_its_indexes_valid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'payout_status_valid'")
        assert cursor.fetchall() == [(True,)]
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname IN ('payout_held_queue', 'payout_customer_recent') ORDER BY c.relname"
        )
        assert cursor.fetchall() == [("payout_customer_recent", True), ("payout_held_queue", True)]
