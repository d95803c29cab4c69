"""The velocity hold's hourly totals (payouts.models.VelocityHour), filled from the last 25 hours of payouts,
and payouts_hold_facts reading them (payouts/holds.py INSTALL).

While the previous release still serves, its servers and workers create and end payouts without touching
the totals: run `manage.py rebuild_velocity_hours` once the new release serves everywhere (README,
"Production"). Until then the claim's exact re-check (payouts.holds.held_at_claim, which sums the payouts
themselves) still holds what creation missed."""

from importlib import import_module

from django.db import migrations, models
from django.utils import timezone

from payouts.holds import INSTALL, REBUILD, REBUILD_HOURS



def fill_totals(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(REBUILD, {"since": timezone.now() - REBUILD_HOURS})


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
        migrations.RunPython(fill_totals, migrations.RunPython.noop),
        migrations.RunSQL(INSTALL, PREVIOUS_INSTALL),
    ]
