"""The review rules' SQL now lives in customers/review.py: install it from there (one definition), in
place of 0005's customers_flag_shared_number. Shared-number locks change with it: an import batch takes one
lock for the merchant's numbers instead of one per number (customers.review.number_gate)."""

import importlib

from django.db import migrations

OLD_SIGNATURE = "customers_flag_shared_number(bigint, boolean, text, text, bigint)"


def install(apps, schema_editor):
    from customers import review

    schema_editor.execute(review.INSTALL)
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE};")


def uninstall(apps, schema_editor):
    from customers import review

    previous = importlib.import_module("customers.migrations.0005_flag_shared_number_keeps_reasons")
    schema_editor.execute(previous.FUNCTION)
    schema_editor.execute(review.UNINSTALL)


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_audit_history")]

    operations = [migrations.RunPython(install, uninstall)]
