"""customers.review: one home for the review flags. The database runs its SQL, reasons join by one rule,
and the shared-number locks hold up whatever an import batch's size."""

import io
import threading
import time

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client

from core.scope import Scope
from customers import review
from customers.importing import Row, RowChecker
from customers.models import BankAccount
from customers.services import customers_import_batch, import_row_prepare
from customers.tests.factories import DOC_BANK_ACCOUNT, make_cbu
from merchants.services import merchant_create

pytestmark = pytest.mark.django_db


def post(key: str, path: str, body: dict):
    headers = {"Authorization": f"Bearer {key}"}
    return Client().post(path, orjson.dumps(body), content_type="application/json", headers=headers)


def function_source(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [name])
        return "".join(source for (source,) in cursor.fetchall())


def test_the_database_runs_the_review_modules_sql_and_nothing_older():
    for name in ("customers_review_reasons_add", "customers_flag_shared_numbers"):
        source = function_source(name)
        assert source and f"$${source}$$" in review.INSTALL  # a change to INSTALL needs a migration running it
    assert function_source("customers_flag_shared_number") == ""  # 0005's, replaced


def add_reason(reasons: str, reason: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT customers_review_reasons_add(%s, %s)", [reasons, reason])
        return cursor.fetchone()[0]


def test_reasons_join_once_each_and_within_the_column():
    assert add_reason("", "A.") == "A."
    assert add_reason("A.", "B.") == "A.; B."
    assert add_reason("A.; B.", "A.") == "A.; B."
    long = "x" * 190
    bounded = add_reason(long, review.RECENT_CHANGE_REASON)
    assert len(bounded) == review.REASON_MAX_LENGTH == 200
    assert add_reason(bounded, review.RECENT_CHANGE_REASON) == bounded  # cut off, and stays so


def test_every_reason_fits_the_column_on_its_own():
    reasons = [review.SHARED_NUMBER_REASON, review.RECENT_CHANGE_REASON]
    reasons += [review.tax_id_reason(kind, {"cuil": "99999999999"}) for kind in review.TAX_ID_PREFIXES]
    assert all(len(reason) <= review.REASON_MAX_LENGTH for reason in reasons)


def test_a_shared_number_flags_an_account_whose_reasons_are_already_long(api, create_customer):
    """Before, the shared-number function joined without a bound: past 200 characters the add failed."""
    number = make_cbu(account="0000000000321")
    first, second = create_customer(), create_customer()
    body = {**DOC_BANK_ACCOUNT, "accountNumber": number}
    created = api.post(f"/customers/{first['customerId']}/bank-accounts", body).json()
    BankAccount.objects.filter(public_id=created["bankAccountId"]).update(needs_review=True, review_reason="x" * 190)
    assert api.post(f"/customers/{second['customerId']}/bank-accounts", body).status_code == 201
    flagged = BankAccount.objects.get(public_id=created["bankAccountId"])
    assert flagged.review_reason == ("x" * 190 + "; " + review.SHARED_NUMBER_REASON)[:200]


def checked_row(scope: Scope, external_id: str, number: str):
    row = Row(2, {"externalId": external_id, "type": "individual", "name": "I", "country": "AR"}, [])
    row.accounts = [{**DOC_BANK_ACCOUNT, "accountNumber": number, "metadata": {}}]
    return import_row_prepare(scope, RowChecker().check(row))


def advisory_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        return cursor.fetchone()[0]


def test_an_import_batch_takes_one_lock_whatever_its_numbers(merchant):
    """One lock per number ran PostgreSQL out of lock memory at 20,000 numbers a batch."""
    scope = Scope(merchant.merchant.pk, False)
    rows = [checked_row(scope, f"n-{i}", make_cbu(account=f"{i:013d}")) for i in range(300)]
    with transaction.atomic():
        customers_import_batch(scope=scope, rows=rows)
        assert advisory_locks_held() == 1
    assert BankAccount.objects.count() == 300


@pytest.mark.parametrize("size", ["0", "50001"])
def test_a_batch_size_out_of_range_is_a_clear_error(tmp_path, merchant, size):
    (tmp_path / "c.csv").write_text("externalId,type,name,country\nc-1,individual,A,AR\n")
    command = ["import_customers", str(tmp_path / "c.csv"), "--merchant", merchant.merchant.public_id]
    with pytest.raises(CommandError, match="--batch-size must be 1 to 50000"):
        call_command(*command, "--batch-size", size, stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_an_add_waits_for_an_import_batch_of_its_number_and_both_are_flagged():
    """An import batch holds the merchant's number gate to commit; an API add of one of its numbers to
    another customer waits for it, then sees the imported account: both are flagged."""
    merchant, test_key, _ = merchant_create(name="Gate")
    scope = Scope(merchant.pk, False)
    number = make_cbu(account="0000000000654")
    customer = post(test_key.secret, "/customers", {"type": "individual", "name": "A", "country": "AR"}).json()
    row = checked_row(scope, "i-1", number)
    holding, release, added = threading.Event(), threading.Event(), []

    def import_batch():
        try:
            with transaction.atomic():
                customers_import_batch(scope=scope, rows=[row])
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    def add():
        try:
            path = f"/customers/{customer['customerId']}/bank-accounts"
            added.append(post(test_key.secret, path, {**DOC_BANK_ACCOUNT, "accountNumber": number}))
        finally:
            connections.close_all()

    importer = threading.Thread(target=import_batch)
    importer.start()
    assert holding.wait(10)
    adder = threading.Thread(target=add)
    adder.start()
    time.sleep(0.5)
    assert not added, "the add did not wait for the import batch's lock"
    release.set()
    importer.join(10)
    adder.join(10)
    assert added[0].status_code == 201
    assert (
        list(BankAccount.objects.values_list("needs_review", "review_reason"))
        == [(True, review.SHARED_NUMBER_REASON)] * 2
    )


def test_an_import_batch_that_loses_a_deadlock_runs_again(tmp_path, merchant, monkeypatch):
    """Its lock on the merchant's numbers can deadlock with an API add to a customer it holds; PostgreSQL
    ends one, and a batch it ends runs again."""
    from customers import importer

    real_batch, calls = importer.customers_import_batch, []

    def deadlocked_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            error = DatabaseError("deadlock detected")
            error.pgcode = "40P01"
            raise error
        return real_batch(**kwargs)

    monkeypatch.setattr(importer, "customers_import_batch", deadlocked_once)
    (tmp_path / "c.csv").write_text("externalId,type,name,country\nc-1,individual,A,AR\n")
    out = io.StringIO()
    command = ["import_customers", str(tmp_path / "c.csv"), "--merchant", merchant.merchant.public_id]
    call_command(*command, stdout=out, stderr=io.StringIO())
    assert out.getvalue().startswith("read 1, created 1, updated 0, unchanged 0, failed 0")
    assert len(calls) == 2
