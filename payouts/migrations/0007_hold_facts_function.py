"""Installs payouts_hold_facts (payouts/holds.py INSTALL): the hold rules' facts read with a payout's
destination, in a PL/pgSQL function for its cached plans."""

from django.db import migrations

from payouts.holds import INSTALL, UNINSTALL


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0006_held_status_and_approvals"),
        ("customers", "0010_flag_function_plan_by_probes"),
        ("merchants", "0004_compliance_hold_amount"),
    ]

    operations = [migrations.RunSQL(INSTALL, UNINSTALL)]
