"""Re-syncs the compliance roles: both see payout limits and their changes; admins set limits and approve
another admin's raise (limits.services: maker-checker)."""

from django.db import migrations

from compliance.roles import install_roles


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0005_roles_decide_held_payouts"),
        ("limits", "0001_initial"),
    ]

    operations = [migrations.RunPython(install_roles, migrations.RunPython.noop)]
