"""Installs payouts_hold_facts (payouts/holds.py INSTALL): the hold rules' facts read with a payout's
destination, in a PL/pgSQL function for its cached plans."""

from django.db import migrations

from payouts.holds import UNINSTALL

# The function as this migration installed it, kept here: payouts/holds.py's INSTALL is the current one,
# installed again by the migrations that changed it (0009).
INSTALL = """
CREATE OR REPLACE FUNCTION payouts_hold_facts(
    p_merchant_id bigint, p_customer_id bigint, p_customer_public_id text, p_account_id bigint,
    p_last_out timestamptz, p_since timestamptz
) RETURNS TABLE (hold_amount numeric, other_flagged boolean, recent_total numeric)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    hold_amount := (SELECT m.compliance_hold_amount FROM merchants_merchant m WHERE m.id = p_merchant_id);
    other_flagged := EXISTS (SELECT 1 FROM customers_bankaccount o
                              WHERE o.customer_id = p_customer_id AND o.needs_review AND o.id <> p_account_id);
    recent_total := 0;
    IF p_last_out >= p_since THEN
        recent_total := (SELECT COALESCE(sum(p.amount), 0) FROM payouts_payout p
                          WHERE p.customer_public_id = p_customer_public_id AND p.created_at >= p_since
                            AND p.status NOT IN ('failed', 'canceled'));
    END IF;
    RETURN NEXT;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0006_held_status_and_approvals"),
        ("customers", "0010_flag_function_plan_by_probes"),
        ("merchants", "0004_compliance_hold_amount"),
    ]

    operations = [migrations.RunSQL(INSTALL, UNINSTALL)]
