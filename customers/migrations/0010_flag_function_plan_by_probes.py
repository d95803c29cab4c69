"""Re-installs customers_flag_shared_numbers (customers/review.py) with its plan fixed to index probes
(review.PROBES_ONLY): with statistics that took the accounts for a handful, a 20,000-number batch scanned the
table once per number."""

from django.db import migrations


def install(apps, schema_editor):
    from customers import review

    schema_editor.execute(review.INSTALL)


class Migration(migrations.Migration):
    dependencies = [("customers", "0009_customer_foreign_keys_without_unused_indexes")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
