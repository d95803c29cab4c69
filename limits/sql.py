"""The database side of limits: the check and the usage update are one statement, limits_consume(), that
rides in POST /payouts' write batch (core.db), so a payout costs no round trip more for its limits.

limits_consume() reads the merchant's limits (none: it returns at once) and, for the day and the customer's
day, adds the amount to the usage counter only WHERE the sum stays within the limit, as one UPDATE: the row
lock it takes makes concurrent payouts queue there, and each re-checks the WHERE against the committed sum
(READ COMMITTED re-evaluates it on the latest row version). A refusal raises SQLSTATE LM001 with a JSON
DETAIL: the batch's transaction rolls back whole (no payout, no usage) and limits.services turns it into
the 403 limit_exceeded.

A day's counter is created by the first payout that needs it, from the day's payouts so far (those not
failed or canceled): a limit set in the middle of a day counts what was already paid out that day.
Days are Argentina's calendar days (America/Argentina/Buenos_Aires, no DST since 2009).
"""

SQLSTATE = "LM001"
TIME_ZONE = "America/Argentina/Buenos_Aires"

CREATE = f"""
CREATE OR REPLACE FUNCTION limits_day_sum(p_merchant bigint, p_livemode boolean, p_customer text, p_day date)
RETURNS numeric LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_from timestamptz := p_day::timestamp AT TIME ZONE '{TIME_ZONE}';
    v_to timestamptz := (p_day + 1)::timestamp AT TIME ZONE '{TIME_ZONE}';
    v_sum numeric := 0;
    r record;
BEGIN
    -- Newest first on the merchant's index (payout_scope_page) or the customer's (payout_customer_page): the
    -- ORDER BY spells the index's order, so no other index serves it. The loop stops an hour before the day
    -- began: ids grow with creation times (set when the request began; the hour covers a slow request), so
    -- this reads the day's payouts, not every payout the merchant or customer ever had.
    FOR r IN SELECT amount, created_at, status FROM payouts_payout
              WHERE p_customer = '' AND merchant_id = p_merchant AND livemode = p_livemode
              ORDER BY merchant_id, livemode, id DESC LOOP
        EXIT WHEN r.created_at < v_from - interval '1 hour';
        IF r.created_at >= v_from AND r.created_at < v_to AND r.status NOT IN ('failed', 'canceled') THEN
            v_sum := v_sum + r.amount;
        END IF;
    END LOOP;
    FOR r IN SELECT amount, created_at, status FROM payouts_payout
              WHERE p_customer <> '' AND customer_public_id = p_customer AND merchant_id = p_merchant
                AND livemode = p_livemode
              ORDER BY customer_public_id, id DESC LOOP
        EXIT WHEN r.created_at < v_from - interval '1 hour';
        IF r.created_at >= v_from AND r.created_at < v_to AND r.status NOT IN ('failed', 'canceled') THEN
            v_sum := v_sum + r.amount;
        END IF;
    END LOOP;
    RETURN v_sum;
END $$;

CREATE OR REPLACE FUNCTION limits_take(
    p_merchant bigint, p_livemode boolean, p_day date, p_customer text, p_amount numeric, p_limit text,
    p_max numeric
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_used numeric;
BEGIN
    LOOP
        -- The guard: add only while the sum stays within the limit, under the row's lock.
        UPDATE limits_payoutlimitusage SET used = used + p_amount
         WHERE merchant_id = p_merchant AND livemode = p_livemode AND day = p_day
           AND customer_public_id = p_customer AND used + p_amount <= p_max;
        IF FOUND THEN
            RETURN;
        END IF;
        SELECT used INTO v_used FROM limits_payoutlimitusage
         WHERE merchant_id = p_merchant AND livemode = p_livemode AND day = p_day
           AND customer_public_id = p_customer;
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = '{SQLSTATE}', MESSAGE = 'limit_exceeded',
                DETAIL = json_build_object('limit', p_limit, 'max', p_max::text, 'used', v_used::text,
                                           'day', p_day::text)::text;
        END IF;
        -- No counter yet today: start it from the day's payouts (a concurrent first payout makes this
        -- wait for it, then do nothing; the loop's UPDATE then sees its row).
        INSERT INTO limits_payoutlimitusage (merchant_id, livemode, day, customer_public_id, used)
        VALUES (p_merchant, p_livemode, p_day, p_customer,
                limits_day_sum(p_merchant, p_livemode, p_customer, p_day))
        ON CONFLICT DO NOTHING;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION limits_consume(
    p_merchant bigint, p_livemode boolean, p_customer text, p_amount numeric, p_day date
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    -- The limits' gate, shared: an admin's change of the limits (limits.services, the gate exclusively)
    -- waits for the payouts that read the old ones, so a counter it starts or removes sees every payout that
    -- counted; a merchant's first limits too (no row to lock yet). An advisory lock, in the lock manager
    -- only: a row lock would write the limits' row (and a MultiXact) on every payout.
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('limits:' || p_merchant || ':' || p_livemode, 0));
    SELECT single_max, daily_max, customer_daily_max INTO v FROM limits_payoutlimit
     WHERE merchant_id = p_merchant AND livemode = p_livemode;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v.single_max IS NOT NULL AND p_amount > v.single_max THEN
        RAISE EXCEPTION USING ERRCODE = '{SQLSTATE}', MESSAGE = 'limit_exceeded',
            DETAIL = json_build_object('limit', 'single', 'max', v.single_max::text, 'used', NULL,
                                       'day', p_day::text)::text;
    END IF;
    -- Always the day's counter before the customer's: every payout locks them in this order.
    IF v.daily_max IS NOT NULL THEN
        PERFORM limits_take(p_merchant, p_livemode, p_day, '', p_amount, 'daily', v.daily_max);
    END IF;
    IF v.customer_daily_max IS NOT NULL AND coalesce(p_customer, '') <> '' THEN
        PERFORM limits_take(p_merchant, p_livemode, p_day, p_customer, p_amount, 'customer_daily',
                            v.customer_daily_max);
    END IF;
END $$;
"""  # noqa: S608 - the module's own constants, no input

DROP = """
DROP FUNCTION IF EXISTS limits_consume(bigint, boolean, text, numeric, date);
DROP FUNCTION IF EXISTS limits_take(bigint, boolean, date, text, numeric, text, numeric);
DROP FUNCTION IF EXISTS limits_day_sum(bigint, boolean, text, date);
"""
