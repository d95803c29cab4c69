"""limits_consume() and its helpers (limits/sql.py): the check and the usage update of a payout's limits in
one statement of its write batch. They read payouts_payout (a day's payouts, when a counter starts)."""

from django.db import migrations

from limits import sql


class Migration(migrations.Migration):
    dependencies = [
        ("limits", "0001_initial"),
        ("payouts", "0005_back_office_search_indexes"),
    ]

    operations = [migrations.RunSQL(sql.CREATE, sql.DROP)]
