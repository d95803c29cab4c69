"""BankAccount.flagged_at: when an account became flagged for review, set by the database (a trigger,
customers.review.FLAGGED_AT_INSTALL) on every path that flags it: set when the flag is raised, kept when
another reason is added, cleared with the flag."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers import review
from customers.models import BankAccount
from customers.services import bank_account_review_clear
from customers.tests.factories import DOC_BANK_ACCOUNT, make_cbu
from customers.tests.test_import import HEADER, run_import
from testsupport.factories import backdate_flag

pytestmark = pytest.mark.django_db

YEAR_AGO = timezone.now() - timedelta(days=365)


def db_now():
    """The database's clock, at a statement of its own: what a later flagging statement's time follows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def stored(public_id: str) -> BankAccount:
    return BankAccount.objects.get(public_id=public_id)


def test_the_database_runs_the_review_modules_trigger_sql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'customers_bank_account_flagged_at'")
        (source,) = cursor.fetchone()
        cursor.execute(
            "SELECT tgname, tgenabled, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE tgrelid = 'customers_bankaccount'::regclass AND tgname LIKE 'bank_account_flagged_at%%'"
        )
        triggers = sorted(cursor.fetchall())
    assert f"$${source}$$" in review.FLAGGED_AT_INSTALL  # a change to it needs a migration running it
    assert triggers == [
        ("bank_account_flagged_at_insert", "O", "customers_bank_account_flagged_at"),
        ("bank_account_flagged_at_update", "O", "customers_bank_account_flagged_at"),
    ]


def test_a_shared_number_flags_an_old_account_from_now_and_a_third_keeps_the_first_times(api, create_customer):
    first, second, third = create_customer(), create_customer(), create_customer()
    created = api.post(f"/customers/{first['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    old = stored(created["bankAccountId"])
    assert (old.needs_review, old.flagged_at) == (False, None)
    BankAccount.objects.filter(pk=old.pk).update(created_at=YEAR_AGO)  # made a year ago, flagged today
    before = db_now()
    shared = api.post(f"/customers/{second['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    old, new = stored(created["bankAccountId"]), stored(shared["bankAccountId"])
    assert old.needs_review and new.needs_review
    assert old.flagged_at > before and new.flagged_at > before

    api.post(f"/customers/{third['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)  # flagged again: kept
    assert stored(created["bankAccountId"]).flagged_at == old.flagged_at
    assert stored(shared["bankAccountId"]).flagged_at == new.flagged_at
    latest = BankAccount.objects.order_by("-id").first()
    assert latest.needs_review and latest.flagged_at > new.flagged_at


def test_a_tax_id_that_does_not_fit_flags_the_account_as_it_is_made(api, create_customer):
    customer = create_customer(type="business", name="Acme SA")
    before = db_now()
    body = api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()  # CUIT 20…
    account = stored(body["bankAccountId"])
    assert account.needs_review and account.review_reason.startswith("CUIT prefix 20")
    assert account.flagged_at > before


def test_a_large_payout_after_a_change_flags_the_account_then_and_a_second_reason_keeps_its_time(
    api, payee, create_customer, settings
):
    settings.COMPLIANCE_LARGE_PAYOUT_AMOUNT = "1000.00"
    settings.COMPLIANCE_HOLD_AMOUNT = "900000000.00"
    account = stored(payee["account"]["bankAccountId"])
    assert (account.needs_review, account.flagged_at) == (False, None)
    before = db_now()
    response = api.post("/payouts", {"amount": "2000.00", "currency": "ARS", "customerId": payee["customerId"]})
    assert "details_recently_changed" in response.json()["holdReasons"]
    flagged = stored(account.public_id)
    assert flagged.needs_review and flagged.flagged_at > before

    other = create_customer(name="Shares the number")  # a second reason, by customers_flag_shared_numbers
    api.post(f"/customers/{other['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    again = stored(account.public_id)
    assert again.review_reason == f"{review.RECENT_CHANGE_REASON}; {review.SHARED_NUMBER_REASON}"
    assert again.flagged_at == flagged.flagged_at


def test_imported_accounts_are_flagged_at_import_and_unflagged_ones_have_no_time(tmp_path, merchant):
    flagged_number, plain_number = make_cbu(account="0000000000909"), make_cbu(account="0000000000910")
    rows = (
        f"{HEADER}\nb-1,business,Acme SA,,AR,,{flagged_number},checking,Acme SA,20221370075\n"
        f"b-2,business,Beta SA,,AR,,{plain_number},checking,Beta SA,\n"
    )
    before = db_now()
    run_import(tmp_path, merchant.merchant, rows)
    flagged = BankAccount.objects.get(account_number_last4=flagged_number[-4:])
    plain = BankAccount.objects.get(account_number_last4=plain_number[-4:])
    assert flagged.needs_review and flagged.flagged_at > before
    assert (plain.needs_review, plain.flagged_at) == (False, None)


def test_an_import_that_shares_a_number_flags_the_stored_account_then(tmp_path, merchant, api, create_customer):
    existing = create_customer(externalId="api-1")
    body = api.post(f"/customers/{existing['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    BankAccount.objects.filter(public_id=body["bankAccountId"]).update(created_at=YEAR_AGO)
    before = db_now()
    run_import(
        tmp_path, merchant.merchant, f"{HEADER}\nc-9,individual,B,,AR,,{DOC_BANK_ACCOUNT['accountNumber']},savings,B,\n"
    )
    accounts = list(BankAccount.objects.order_by("id"))
    assert len(accounts) == 2 and all(a.needs_review and a.flagged_at > before for a in accounts)


def test_clearing_the_flag_clears_its_time_and_a_new_flag_starts_a_new_one(api, create_customer):
    first, second = create_customer(), create_customer()
    body = api.post(f"/customers/{first['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    api.post(f"/customers/{second['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    account = stored(body["bankAccountId"])
    backdate_flag(account, YEAR_AGO)
    staff = get_user_model().objects.create_user("ana", is_staff=True)
    cleared = bank_account_review_clear(account=account, staff=staff, reason="Same person")
    assert cleared.flagged_at is None
    assert (stored(account.public_id).needs_review, stored(account.public_id).flagged_at) == (False, None)
    trail = stored(account.public_id).audit_events.order_by("pgh_id")
    assert [(e.needs_review, e.flagged_at is None) for e in trail][-2:] == [(True, False), (False, True)]

    before = db_now()
    BankAccount.objects.filter(pk=account.pk).update(needs_review=True, review_reason="Again.")
    assert stored(account.public_id).flagged_at > before


def test_a_write_of_flagged_at_itself_is_undone_by_the_database(api, create_customer):
    """The database owns the column: a stale instance's save() or an update of flagged_at alone changes
    nothing, flagged or not."""
    first, second = create_customer(), create_customer()
    body = api.post(f"/customers/{first['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    stale = stored(body["bankAccountId"])  # read before it was flagged: flagged_at None
    shared = api.post(f"/customers/{second['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    flagged_at = stored(stale.public_id).flagged_at
    stale.needs_review, stale.review_reason = True, stored(stale.public_id).review_reason
    stale.save()  # every column, flagged_at None among them
    assert stored(stale.public_id).flagged_at == flagged_at
    BankAccount.objects.filter(pk=stale.pk).update(flagged_at=YEAR_AGO)
    assert stored(stale.public_id).flagged_at == flagged_at

    BankAccount.objects.filter(public_id=shared["bankAccountId"]).update(needs_review=False, review_reason="")
    BankAccount.objects.filter(public_id=shared["bankAccountId"]).update(flagged_at=YEAR_AGO)
    assert stored(shared["bankAccountId"]).flagged_at is None


def test_the_database_refuses_a_flag_without_its_time_even_with_triggers_off(api, create_customer):
    first, second = create_customer(), create_customer()
    body = api.post(f"/customers/{first['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    api.post(f"/customers/{second['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    with pytest.raises(IntegrityError, match="bank_account_flagged_at_with_flag"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")  # as a replica writes: no triggers
            cursor.execute(
                "UPDATE customers_bankaccount SET flagged_at = NULL WHERE public_id = %s", [body["bankAccountId"]]
            )
    assert stored(body["bankAccountId"]).flagged_at is not None
