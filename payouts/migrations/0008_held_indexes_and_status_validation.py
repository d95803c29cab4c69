"""The rest of 0006, done without blocking the API and the worker on a table of millions of payouts: the two
indexes built concurrently, and the status CHECK (added NOT VALID by 0006) validated, which takes only a
SHARE UPDATE EXCLUSIVE lock (reads and writes go on during the scan)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payouts", "0007_hold_facts_function"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="payout",
            index=models.Index(
                condition=models.Q(("status", "held")), fields=["id"], include=("merchant",), name="payout_held_queue"
            ),
        ),
        AddIndexConcurrently(
            model_name="payout",
            index=models.Index(
                condition=models.Q(("customer__isnull", False)),
                fields=["customer", "created_at"],
                include=("amount", "status"),
                name="payout_customer_recent",
            ),
        ),
        # Backwards there is nothing to undo: a validated CHECK is what 0006's NOT VALID one becomes.
        migrations.RunSQL(
            'ALTER TABLE "payouts_payout" VALIDATE CONSTRAINT "payout_status_valid";', migrations.RunSQL.noop
        ),
    ]
