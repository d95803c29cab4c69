"""When a bank account needs compliance's review, and why: every rule, every reason, in one place.

Three rules flag an account (README, "Needs review"):

- its CUIT/CUIL prefix does not fit its customer's type (`tax_id_reason`: decided in Python, when the
  account is made, by the API and the importer alike);
- its number is on more than one customer of the merchant (`flag_shared_numbers`: decided in the
  database, by the function `customers_flag_shared_numbers` below, under a lock held to commit);
- a large payout goes to it soon after its number or holder was set (`recently_changed`, then
  `flag_changed_before_large_payout`, in the payout's own write batch; the payout is held: payouts.holds).

Reasons accumulate: an account keeps every reason it was flagged for, each once, joined by "; ", the
whole bounded by the column (200 characters: what does not fit is cut). That one rule is the SQL function
`customers_review_reasons_add`; every statement that adds a reason calls it, and Python never joins
reasons (an account's first reason, set when it is made, is one of the fixed sentences here, all shorter
than the column).

When an account was flagged (`flagged_at`, the review queue's age and order) is the database's to say, by
a trigger (`FLAGGED_AT_INSTALL`): whichever of the paths above sets needs_review, and however (the ORM, SQL,
the function below, the importer's INSERT … SELECT), the row gets the time it became flagged; another reason
keeps it; clearing the flag clears it.

The functions' SQL lives here only: migration 0007 installs `INSTALL`, 0012 `FLAGGED_AT_INSTALL` (a later
change to either needs a migration that runs it again; customers/tests/test_review.py checks that the
database runs this text).
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from core import db
from core.scope import Scope
from customers.models import BankAccount

REASON_MAX_LENGTH = BankAccount._meta.get_field("review_reason").max_length

SHARED_NUMBER_REASON = "Account number also belongs to another customer of this merchant."
RECENT_CHANGE_REASON = "Details added or changed shortly before a large payout."
TAX_ID_PREFIXES = {"individual": ("20", "23", "24", "27"), "business": ("30", "33", "34")}


def tax_id_reason(customer_type: str, metadata: dict[str, str]) -> str | None:
    """Why an account's CUIT/CUIL (metadata, normalised to 11 digits) needs review: its prefix says
    person where the customer is a business, or the other way round. None when it fits or is absent."""
    for key in ("cuit", "cuil"):
        tax_id = metadata.get(key)
        if tax_id and not tax_id.startswith(TAX_ID_PREFIXES[customer_type]):
            return f"{key.upper()} prefix {tax_id[:2]} does not fit a customer of type {customer_type}."
    return None


def review_new_account(account, customer_type: str) -> None:
    """Flag an account being made (a BankAccount, or the importer's ImportedAccount) whose CUIT/CUIL does
    not fit its customer."""
    reason = tax_id_reason(customer_type, account.metadata)
    if reason:
        account.needs_review, account.review_reason = True, reason


# Shared numbers. Who may write a number of a merchant (and mode), until commit: an account added through
# the API holds the merchant's number gate shared and its number's own lock; an import batch holds the
# gate exclusively: one lock, whatever the batch's size (a lock per number exhausted PostgreSQL's lock
# table, "out of shared memory", at 20,000 numbers a batch). So two adds of different numbers never wait
# for each other, and whoever flags second sees the first's account.


def number_gate(scope: Scope) -> int:
    return db.advisory_lock_id("numbers", scope.merchant_id, scope.livemode)


def number_lock(scope: Scope, fingerprint: str) -> int:
    return db.advisory_lock_id("number", scope.merchant_id, scope.livemode, fingerprint)


FLAG_SHARED_NUMBERS = "SELECT customers_flag_shared_numbers(%s, %s, %s::text[], %s, %s, %s)"


def flag_shared_number(scope: Scope, fingerprint: str) -> None:
    """After an account with this number is written (in the same transaction, or write batch)."""
    db.execute(
        FLAG_SHARED_NUMBERS,
        (
            scope.merchant_id,
            scope.livemode,
            [fingerprint],
            SHARED_NUMBER_REASON,
            number_gate(scope),
            number_lock(scope, fingerprint),
        ),
    )


def flag_shared_numbers_imported(scope: Scope, fingerprints: set[str]) -> None:
    """After an import batch's accounts are written, in its transaction: the gate, then every account of
    its numbers that more than one customer of the merchant now has."""
    if fingerprints:
        gate = number_gate(scope)
        db.execute(
            FLAG_SHARED_NUMBERS,
            (scope.merchant_id, scope.livemode, sorted(fingerprints), SHARED_NUMBER_REASON, gate, None),
        )


# Large payouts soon after a change.


def recently_changed(details_changed_at: datetime | None, amount: Decimal, now: datetime) -> bool:
    """A large payout to an account whose details are new (compliance's rule; COMPLIANCE_LARGE_PAYOUT_AMOUNT
    and COMPLIANCE_RECENT_CHANGE_HOURS): the account is flagged, and the payout held (payouts.holds). The
    caller reads details_changed_at with the payout's destination: the rule costs no query of its own."""
    if details_changed_at is None or amount < Decimal(settings.COMPLIANCE_LARGE_PAYOUT_AMOUNT):
        return False
    return details_changed_at >= now - timedelta(hours=settings.COMPLIANCE_RECENT_CHANGE_HOURS)


FLAG_ACCOUNT = """
UPDATE customers_bankaccount
   SET needs_review = TRUE, review_reason = customers_review_reasons_add(review_reason, %s)
 WHERE public_id = %s AND NOT (needs_review AND review_reason = customers_review_reasons_add(review_reason, %s))
"""


def flag_changed_before_large_payout(bank_account_id: str) -> None:
    """In the payout's write batch (core.db)."""
    db.execute(FLAG_ACCOUNT, (RECENT_CHANGE_REASON, bank_account_id, RECENT_CHANGE_REASON))


# The function's plan, whatever the statistics say: the numbers drive, each probing the fingerprint index.
# With statistics that took the accounts for a handful (a new merchant's first import batch, before
# ANALYZE), the planner drove from the accounts and rescanned the numbers for each: a 20,000-row batch took
# minutes on PostgreSQL 15.
PROBES_ONLY = "SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off"

# The database's half, installed by migration 0007 (what it interpolates is the column's length).
INSTALL = f"""
-- The one rule for adding a reason: each once, joined by "; ", bounded by the column. A reason already
-- there (or cut off at the end) leaves the text as it is. Inlined by the planner where it is called.
CREATE OR REPLACE FUNCTION customers_review_reasons_add(p_reasons text, p_reason text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_reasons = '' THEN left(p_reason, {REASON_MAX_LENGTH})
                WHEN strpos(p_reasons, p_reason) > 0 THEN p_reasons
                ELSE left(p_reasons || '; ' || p_reason, {REASON_MAX_LENGTH}) END
$$;

-- Flags every account of these numbers that more than one customer of the merchant (same mode) has, with
-- p_reason. Locks first (see number_gate in customers/review.py): p_lock, a number's own lock, with the
-- gate shared; without p_lock, the gate exclusively. PL/pgSQL for its cached plan (planning the UPDATE
-- cost 0.2 ms on every add), and because each statement of a function takes a new snapshot: the UPDATE
-- sees what was committed while it waited for its lock. One probe of the fingerprint index per number.
CREATE OR REPLACE FUNCTION customers_flag_shared_numbers(
    p_merchant_id bigint, p_livemode boolean, p_fingerprints text[], p_reason text, p_gate bigint, p_lock bigint
) RETURNS void LANGUAGE plpgsql {PROBES_ONLY} AS $$
BEGIN
    IF p_lock IS NULL THEN
        PERFORM pg_advisory_xact_lock(p_gate);
    ELSE
        PERFORM pg_advisory_xact_lock_shared(p_gate);
        PERFORM pg_advisory_xact_lock(p_lock);
    END IF;
    -- The numbers drive: for each, its accounts and whether another customer has it, by index probes
    -- (LATERAL), gathered once (ARRAY), then the accounts updated by primary key. OFFSET 0 keeps each
    -- subquery a probe per number: flattened, with statistics that took the merchant for a few accounts
    -- (a new merchant's first import batch), the planner read the merchant's accounts and compared each with
    -- every number (17.5 s for 20,000 numbers; 0.18 s with the fences: bench/import_ceiling.py's finding).
    UPDATE customers_bankaccount AS account
       SET needs_review = TRUE, review_reason = customers_review_reasons_add(account.review_reason, p_reason)
     WHERE account.id = ANY (ARRAY(
               SELECT shared.id
                 FROM unnest(p_fingerprints) AS number(fingerprint)
                 CROSS JOIN LATERAL (
                       SELECT b.id, b.customer_id FROM customers_bankaccount b
                        WHERE b.merchant_id = p_merchant_id AND b.livemode = p_livemode
                          AND b.account_number_fingerprint = number.fingerprint OFFSET 0) AS shared
                WHERE EXISTS (SELECT 1 FROM customers_bankaccount other
                               WHERE other.merchant_id = p_merchant_id AND other.livemode = p_livemode
                                 AND other.account_number_fingerprint = number.fingerprint
                                 AND other.customer_id <> shared.customer_id OFFSET 0)))
       AND NOT (account.needs_review
                AND account.review_reason = customers_review_reasons_add(account.review_reason, p_reason));
END
$$;
"""  # noqa: S608 (it interpolates a constant: the column's length)
UNINSTALL = """
DROP FUNCTION IF EXISTS customers_flag_shared_numbers(bigint, boolean, text[], text, bigint, bigint);
DROP FUNCTION IF EXISTS customers_review_reasons_add(text, text);
"""

# When needs_review becomes true (inserted so, or updated from false), flagged_at is the statement's time;
# while it stays true, flagged_at stays (a write of another value, say a stale instance's save(), is undone);
# when it becomes false, flagged_at is NULL. Row triggers with WHEN clauses, so a row whose flag does not
# change calls no function: an import batch's unflagged rows (nearly all) pay one boolean test each, an
# update that leaves the flag alone (another reason added) nothing. statement_timestamp(), not now(): each
# flagging statement of a long transaction (a payout's write batch, a test) gets its own time.
FLAGGED_AT_INSTALL = """
CREATE OR REPLACE FUNCTION customers_bank_account_flagged_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.needs_review THEN
        NEW.flagged_at := NULL;
    ELSIF TG_OP = 'INSERT' OR NOT OLD.needs_review THEN
        NEW.flagged_at := statement_timestamp();
    ELSE
        NEW.flagged_at := OLD.flagged_at;
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS bank_account_flagged_at_insert ON customers_bankaccount;
CREATE TRIGGER bank_account_flagged_at_insert BEFORE INSERT ON customers_bankaccount FOR EACH ROW
    WHEN (NEW.needs_review OR NEW.flagged_at IS NOT NULL) EXECUTE FUNCTION customers_bank_account_flagged_at();
DROP TRIGGER IF EXISTS bank_account_flagged_at_update ON customers_bankaccount;
CREATE TRIGGER bank_account_flagged_at_update BEFORE UPDATE OF needs_review, flagged_at ON customers_bankaccount
    FOR EACH ROW
    WHEN (NEW.needs_review IS DISTINCT FROM OLD.needs_review OR NEW.flagged_at IS DISTINCT FROM OLD.flagged_at)
    EXECUTE FUNCTION customers_bank_account_flagged_at();
"""
FLAGGED_AT_UNINSTALL = """
DROP TRIGGER IF EXISTS bank_account_flagged_at_insert ON customers_bankaccount;
DROP TRIGGER IF EXISTS bank_account_flagged_at_update ON customers_bankaccount;
DROP FUNCTION IF EXISTS customers_bank_account_flagged_at();
"""
