"""Re-syncs the compliance roles: both now view the audit trail's events, and admins may reveal a full
account number."""

from django.db import migrations

from compliance.roles import install_roles


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0001_roles"),
        ("customers", "0006_audit_history"),
        ("merchants", "0002_audit_history"),
        ("payouts", "0002_audit_history"),
    ]

    operations = [migrations.RunPython(install_roles, migrations.RunPython.noop)]
