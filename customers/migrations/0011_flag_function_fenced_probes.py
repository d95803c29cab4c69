"""Re-installs customers_flag_shared_numbers (customers/review.py) with its subqueries fenced (OFFSET 0): with
a new merchant's statistics the planner compared every account of the merchant with every number of the
batch (17.5 s for a 20,000-row import batch, growing with the square of its size)."""

from django.db import migrations


def install(apps, schema_editor):
    from customers import review

    schema_editor.execute(review.INSTALL)


class Migration(migrations.Migration):
    dependencies = [("customers", "0010_flag_function_plan_by_probes")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
