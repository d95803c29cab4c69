"""Re-syncs the compliance roles: analysts decide held payouts and take review-queue items; admins set a
merchant's own hold threshold."""

from django.db import migrations

from compliance.roles import install_roles


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0004_review_assignment"),
        ("payouts", "0006_held_status_and_approvals"),
        ("merchants", "0004_compliance_hold_amount"),
    ]

    operations = [migrations.RunPython(install_roles, migrations.RunPython.noop)]
