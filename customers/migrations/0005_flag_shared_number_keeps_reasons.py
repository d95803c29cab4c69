"""The shared-number flag adds its reason beside any other instead of skipping flagged accounts."""

import importlib

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION customers_flag_shared_number(
    p_merchant_id bigint, p_livemode boolean, p_fingerprint text, p_reason text, p_lock bigint
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- One writer per number until commit: whoever flags second sees the first's account (each statement
    -- of a function takes a new snapshot).
    PERFORM pg_advisory_xact_lock(p_lock);
    UPDATE customers_bankaccount AS account
       SET needs_review = TRUE,
           review_reason = CASE WHEN account.review_reason = '' THEN p_reason
                                ELSE account.review_reason || '; ' || p_reason END
     WHERE account.merchant_id = p_merchant_id AND account.livemode = p_livemode
       AND account.account_number_fingerprint = p_fingerprint AND strpos(account.review_reason, p_reason) = 0
       AND EXISTS (SELECT 1 FROM customers_bankaccount other
                    WHERE other.merchant_id = p_merchant_id AND other.livemode = p_livemode
                      AND other.account_number_fingerprint = p_fingerprint
                      AND other.customer_id <> account.customer_id);
END
$$;
"""


def replace(apps, schema_editor):
    schema_editor.execute(FUNCTION)


def restore(apps, schema_editor):
    previous = importlib.import_module("customers.migrations.0004_flag_shared_number_function")
    schema_editor.execute(previous.CREATE)


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_flag_shared_number_function")]

    operations = [migrations.RunPython(replace, restore)]
