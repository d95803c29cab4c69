"""The payout path's own PL/pgSQL, installed by migrations (a later change to it needs a migration that
runs INSTALL again; payouts/tests/test_holds.py checks that the database runs this text).

payouts_default_destination: POST /payouts' one read for a saved customer's default account (the path of
most payouts), with what the hold rules need (payouts.holds: the account's flag and last change, and the
rest from payouts_hold_facts). In a function for its cached plan: sent as a query, PostgreSQL planned the
join and the facts' function scan on every payout, about 0.1 ms (pgbench, one client, 0.25–0.29 ms a read
as a query against 0.16 ms through this function; the read before holds, as a query, took 0.18–0.19 ms).
"""

INSTALL = """
CREATE OR REPLACE FUNCTION payouts_default_destination(
    p_customer text, p_merchant bigint, p_livemode boolean, p_since timestamptz
) RETURNS TABLE (
    customer_public_id text, account_public_id text, account_status text, ciphertext text, key_id text,
    fingerprint text, last4 text, verification text, hold_amount numeric, needs_review boolean,
    details_changed_at timestamptz, other_flagged boolean, recent_total numeric
) LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT c.public_id::text, b.public_id::text, b.status::text, b.account_number_ciphertext,
           b.account_number_key_id::text, b.account_number_fingerprint::text, b.account_number_last4::text,
           c.verification_status::text, f.hold_amount, COALESCE(b.needs_review, FALSE), b.details_changed_at,
           f.other_flagged, f.recent_total
      FROM customers_customer c
      LEFT JOIN customers_bankaccount b ON b.public_id = c.default_bank_account_public_id
     CROSS JOIN LATERAL payouts_hold_facts(c.merchant_id, c.id, c.public_id, b.id, c.last_out, p_since) f
     WHERE c.public_id = p_customer AND c.merchant_id = p_merchant AND c.livemode = p_livemode;
END
$$;
"""
UNINSTALL = "DROP FUNCTION IF EXISTS payouts_default_destination(text, bigint, boolean, timestamptz);"

# The customer and its default account (columns in the function's order), or no row.
DEFAULT_DESTINATION = "SELECT * FROM payouts_default_destination(%s, %s, %s, %s)"
