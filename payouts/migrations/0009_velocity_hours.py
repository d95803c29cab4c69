"""The velocity hold's hourly totals (payouts.models.VelocityHour), filled from the last 25 hours of payouts,
and payouts_hold_facts reading them (payouts/holds.py INSTALL).

Payouts created by the previous release between this backfill and the new release serving are not in the
totals: for their 24 hours the velocity hold at creation may see less than was paid, and the claim's exact
re-check (payouts.holds.held_at_claim, which sums the payouts themselves) is what holds them then."""

from importlib import import_module

from django.db import migrations, models

from payouts.holds import INSTALL

BACKFILL = """
INSERT INTO payouts_velocityhour (customer_public_id, hour, amount)
SELECT customer_public_id, date_trunc('hour', created_at, 'UTC'), sum(amount)
  FROM payouts_payout
 WHERE customer_public_id IS NOT NULL AND created_at >= now() - interval '25 hours'
   AND status NOT IN ('failed', 'canceled')
 GROUP BY 1, 2
"""

# 0007's function, which summed the payouts themselves (what `migrate payouts 0008` goes back to).
PREVIOUS_INSTALL = import_module("payouts.migrations.0007_hold_facts_function").INSTALL


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0008_held_indexes_and_status_validation"),
    ]

    operations = [
        migrations.CreateModel(
            name="VelocityHour",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "customer_public_id", "hour", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("customer_public_id", models.CharField(max_length=40)),
                ("hour", models.DateTimeField()),
                ("amount", models.DecimalField(decimal_places=2, max_digits=20)),
            ],
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RunSQL(INSTALL, PREVIOUS_INSTALL),
    ]
