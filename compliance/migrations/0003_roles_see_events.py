"""Re-syncs the compliance roles: both view events, webhook endpoints and deliveries, and may resend."""

from django.db import migrations

from compliance.roles import install_roles


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0002_roles_see_the_trail_and_reveal"),
        ("events", "0001_initial"),
    ]

    operations = [migrations.RunPython(install_roles, migrations.RunPython.noop)]
