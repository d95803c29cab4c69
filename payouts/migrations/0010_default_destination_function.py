"""Installs payouts_default_destination (payouts/sql.py INSTALL): POST /payouts' read of a saved customer's
default account and the hold rules' facts, in a PL/pgSQL function for its cached plan."""

from django.db import migrations

from payouts.sql import INSTALL, UNINSTALL


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0009_velocity_hours"),
    ]

    operations = [migrations.RunSQL(INSTALL, UNINSTALL)]
