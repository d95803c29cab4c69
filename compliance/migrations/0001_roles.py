"""Creates the compliance roles (compliance/roles.py) with their permissions."""

from django.db import migrations

from compliance.roles import ADMIN, ANALYST, install_roles


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[ANALYST, ADMIN]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("merchants", "0001_initial"),
        ("customers", "0003_customer_verification"),
        ("payouts", "0001_initial"),
    ]

    operations = [migrations.RunPython(install_roles, remove_roles)]
