"""A PostgreSQL function that flags a number shared by several customers (customers.services)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION customers_flag_shared_number(
    p_merchant_id bigint, p_livemode boolean, p_fingerprint text, p_reason text, p_lock bigint
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- One writer per number until commit: whoever flags second sees the first's account (each statement
    -- of a function takes a new snapshot).
    PERFORM pg_advisory_xact_lock(p_lock);
    UPDATE customers_bankaccount AS account SET needs_review = TRUE, review_reason = p_reason
     WHERE account.merchant_id = p_merchant_id AND account.livemode = p_livemode
       AND account.account_number_fingerprint = p_fingerprint AND NOT account.needs_review
       AND EXISTS (SELECT 1 FROM customers_bankaccount other
                    WHERE other.merchant_id = p_merchant_id AND other.livemode = p_livemode
                      AND other.account_number_fingerprint = p_fingerprint
                      AND other.customer_id <> account.customer_id);
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS customers_flag_shared_number(bigint, boolean, text, text, bigint);"


def create(apps, schema_editor):
    schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_customer_verification")]

    operations = [migrations.RunPython(create, drop)]
