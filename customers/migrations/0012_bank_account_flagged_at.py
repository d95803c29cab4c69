"""BankAccount.flagged_at: when an account became flagged for review, the review queue's age and order.
The column (nullable: adding it rewrites nothing), in the audit trail too; its value for the accounts
flagged now; and the trigger that sets it from now on, whatever flags an account (customers.review,
FLAGGED_AT_INSTALL), installed after the backfill (it would undo the backfill's writes); and a CHECK that
a flagged account has a time and an unflagged one none, NOT VALID. One transaction: no account is flagged
between the backfill and the trigger. The queue's index and the CHECK's validation: 0013."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


def install_flagged_at(apps, schema_editor):
    from customers import review

    schema_editor.execute(review.FLAGGED_AT_INSTALL)


def uninstall_flagged_at(apps, schema_editor):
    from customers import review

    schema_editor.execute(review.FLAGGED_AT_UNINSTALL)


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0011_flag_function_fenced_probes'),
        ('merchants', '0005_compliance_hold_amount_positive'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='bankaccount',
            name='create_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='bankaccount',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='bankaccount',
            name='delete_delete',
        ),
        migrations.AddField(
            model_name='bankaccount',
            name='flagged_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='bankaccounthistory',
            name='flagged_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        # Accounts flagged before this migration keep the age the queue showed them with: their creation.
        # Run while the audit trail's triggers are off (between their removal and their new version, in
        # this transaction): it records no change of the accounts, only the time the queue already used.
        # The flagged accounts are few (read by the partial index bank_account_needs_review).
        migrations.RunSQL(
            "UPDATE customers_bankaccount SET flagged_at = created_at WHERE needs_review AND flagged_at IS NULL;",
            migrations.RunSQL.noop,
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='bankaccount',
            trigger=pgtrigger.compiler.Trigger(name='create_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "customers_bankaccounthistory" ("account_kind", "account_number_key_id", "account_number_last4", "account_type", "country", "created_at", "currency", "customer_id", "details_changed_at", "disabled_at", "entity_code", "flagged_at", "holder_name", "id", "livemode", "merchant_id", "metadata", "needs_review", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "public_id", "rail", "review_reason", "status") SELECT new_values."account_kind", new_values."account_number_key_id", new_values."account_number_last4", new_values."account_type", new_values."country", new_values."created_at", new_values."currency", new_values."customer_id", new_values."details_changed_at", new_values."disabled_at", new_values."entity_code", new_values."flagged_at", new_values."holder_name", new_values."id", new_values."livemode", new_values."merchant_id", new_values."metadata", new_values."needs_review", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'create\', new_values."id", new_values."public_id", new_values."rail", new_values."review_reason", new_values."status" FROM ( SELECT new_values.* FROM new_values  ) AS new_values, _pgh_attached_context; RETURN NULL;', hash='ae7383367759f488dd08b2a127009fd4ca569fe7', level='STATEMENT', operation='INSERT', pgid='pgtrigger_create_insert_35457', referencing='REFERENCING NEW TABLE AS new_values ', table='customers_bankaccount', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='bankaccount',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "customers_bankaccounthistory" ("account_kind", "account_number_key_id", "account_number_last4", "account_type", "country", "created_at", "currency", "customer_id", "details_changed_at", "disabled_at", "entity_code", "flagged_at", "holder_name", "id", "livemode", "merchant_id", "metadata", "needs_review", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "public_id", "rail", "review_reason", "status") SELECT new_values."account_kind", new_values."account_number_key_id", new_values."account_number_last4", new_values."account_type", new_values."country", new_values."created_at", new_values."currency", new_values."customer_id", new_values."details_changed_at", new_values."disabled_at", new_values."entity_code", new_values."flagged_at", new_values."holder_name", new_values."id", new_values."livemode", new_values."merchant_id", new_values."metadata", new_values."needs_review", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'update\', new_values."id", new_values."public_id", new_values."rail", new_values."review_reason", new_values."status" FROM ( SELECT new_values.* FROM old_values JOIN new_values ON (old_values."id") = (new_values."id") WHERE (old_values."account_kind" IS DISTINCT FROM (new_values."account_kind") OR old_values."account_number_key_id" IS DISTINCT FROM (new_values."account_number_key_id") OR old_values."account_number_last4" IS DISTINCT FROM (new_values."account_number_last4") OR old_values."account_type" IS DISTINCT FROM (new_values."account_type") OR old_values."country" IS DISTINCT FROM (new_values."country") OR old_values."created_at" IS DISTINCT FROM (new_values."created_at") OR old_values."currency" IS DISTINCT FROM (new_values."currency") OR old_values."customer_id" IS DISTINCT FROM (new_values."customer_id") OR old_values."details_changed_at" IS DISTINCT FROM (new_values."details_changed_at") OR old_values."disabled_at" IS DISTINCT FROM (new_values."disabled_at") OR old_values."entity_code" IS DISTINCT FROM (new_values."entity_code") OR old_values."flagged_at" IS DISTINCT FROM (new_values."flagged_at") OR old_values."holder_name" IS DISTINCT FROM (new_values."holder_name") OR old_values."id" IS DISTINCT FROM (new_values."id") OR old_values."livemode" IS DISTINCT FROM (new_values."livemode") OR old_values."merchant_id" IS DISTINCT FROM (new_values."merchant_id") OR old_values."metadata" IS DISTINCT FROM (new_values."metadata") OR old_values."needs_review" IS DISTINCT FROM (new_values."needs_review") OR old_values."public_id" IS DISTINCT FROM (new_values."public_id") OR old_values."rail" IS DISTINCT FROM (new_values."rail") OR old_values."review_reason" IS DISTINCT FROM (new_values."review_reason") OR old_values."status" IS DISTINCT FROM (new_values."status")) ) AS new_values, _pgh_attached_context; RETURN NULL;', hash='e3b914a4ee9f9e4f09ec32e01020bb5f294e0f54', level='STATEMENT', operation='UPDATE', pgid='pgtrigger_update_update_6e96f', referencing='REFERENCING OLD TABLE AS old_values  NEW TABLE AS new_values ', table='customers_bankaccount', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='bankaccount',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "customers_bankaccounthistory" ("account_kind", "account_number_key_id", "account_number_last4", "account_type", "country", "created_at", "currency", "customer_id", "details_changed_at", "disabled_at", "entity_code", "flagged_at", "holder_name", "id", "livemode", "merchant_id", "metadata", "needs_review", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "public_id", "rail", "review_reason", "status") SELECT old_values."account_kind", old_values."account_number_key_id", old_values."account_number_last4", old_values."account_type", old_values."country", old_values."created_at", old_values."currency", old_values."customer_id", old_values."details_changed_at", old_values."disabled_at", old_values."entity_code", old_values."flagged_at", old_values."holder_name", old_values."id", old_values."livemode", old_values."merchant_id", old_values."metadata", old_values."needs_review", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'delete\', old_values."id", old_values."public_id", old_values."rail", old_values."review_reason", old_values."status" FROM ( SELECT old_values.* FROM old_values  ) AS old_values, _pgh_attached_context; RETURN NULL;', hash='619c4a48595b6dc78a9ff6df16980a381b42d122', level='STATEMENT', operation='DELETE', pgid='pgtrigger_delete_delete_4c3c4', referencing='REFERENCING OLD TABLE AS old_values ', table='customers_bankaccount', when='AFTER')),
        ),
        migrations.RunPython(install_flagged_at, uninstall_flagged_at),
        # NOT VALID: only rows written from now on are checked, and the table is not scanned under this
        # transaction's ACCESS EXCLUSIVE lock; 0013 validates it without blocking writes.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'ALTER TABLE "customers_bankaccount" ADD CONSTRAINT "bank_account_flagged_at_with_flag" CHECK'
                    ' (("needs_review" AND "flagged_at" IS NOT NULL) OR (NOT "needs_review" AND "flagged_at" IS NULL))'
                    " NOT VALID;",
                    'ALTER TABLE "customers_bankaccount" DROP CONSTRAINT "bank_account_flagged_at_with_flag";',
                ),
            ],
            state_operations=[
                migrations.AddConstraint(
                    model_name="bankaccount",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("flagged_at__isnull", False), ("needs_review", True)),
                            models.Q(("flagged_at__isnull", True), ("needs_review", False)),
                            _connector="OR",
                        ),
                        name="bank_account_flagged_at_with_flag",
                    ),
                ),
            ],
        ),
    ]
