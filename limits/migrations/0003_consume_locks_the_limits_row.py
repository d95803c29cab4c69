"""Re-installs limits_consume() (limits/sql.py): it reads the merchant's limits FOR KEY SHARE, so an admin's
change waits for the payouts in flight that read the old limits (a payout read the limits, an admin set a
daily limit, the day's counter started without that payout: the day went over its limit)."""

from django.db import migrations

from limits import sql


class Migration(migrations.Migration):
    dependencies = [("limits", "0002_consume_function")]

    operations = [migrations.RunSQL(sql.CREATE, migrations.RunSQL.noop)]
