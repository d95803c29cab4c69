"""The review queue's index of flagged accounts, (flagged_at, id) where needs_review (compliance.queue), built
without blocking writes to a table of millions of accounts (CREATE INDEX CONCURRENTLY). The older partial
index bank_account_needs_review stays: the back-office's "needs review" filters read it (newest first, and
the customers with a flagged account, index-only by its customer column). Then 0012's CHECK validated,
which takes only a SHARE UPDATE EXCLUSIVE lock (reads and writes go on during the scan)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0012_bank_account_flagged_at"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='bankaccount',
            index=models.Index(condition=models.Q(('needs_review', True)), fields=['flagged_at', 'id'], name='bank_account_review_queue'),
        ),
        # Backwards there is nothing to undo: a validated CHECK is what 0012's NOT VALID one becomes.
        migrations.RunSQL(
            'ALTER TABLE "customers_bankaccount" VALIDATE CONSTRAINT "bank_account_flagged_at_with_flag";',
            migrations.RunSQL.noop,
        ),
    ]
