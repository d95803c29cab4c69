# Index review (issue 15): every index on the customer tables is used by a query that can be named, but
# these three, which Django adds for a foreign key: customers are never looked up by their default account
# (accounts are disabled, never deleted) nor by reviewer. Dropped by name, the foreign keys left as they are
# (Django's own AlterField drops and re-adds, so re-validates, both constraints).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = {
    "customers_customer_default_bank_account_public_id_08c0a27f": "(default_bank_account_public_id)",
    "customers_customer_default_bank_account_public_id_08c0a27f_like": (
        "(default_bank_account_public_id varchar_pattern_ops)"
    ),
    "customers_customer_verification_reviewer_id_327a5864": "(verification_reviewer_id)",
}


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0008_back_office_search_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON "customers_customer" {columns}',
                )
                for name, columns in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="default_bank_account",
                    field=models.ForeignKey(
                        blank=True,
                        db_column="default_bank_account_public_id",
                        db_index=False,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="customers.bankaccount",
                        to_field="public_id",
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="verification_reviewer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
    ]
