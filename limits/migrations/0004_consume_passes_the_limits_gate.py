"""Re-installs limits_consume() (limits/sql.py): the limits are guarded by an advisory lock every payout takes
shared and a change takes exclusively, instead of a FOR KEY SHARE lock on the limits' row, which wrote that
row (and a MultiXact) on every payout, and covered no merchant's first limits."""

from django.db import migrations

from limits import sql


class Migration(migrations.Migration):
    dependencies = [("limits", "0003_consume_locks_the_limits_row")]

    operations = [migrations.RunSQL(sql.CREATE, migrations.RunSQL.noop)]
