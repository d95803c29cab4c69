"""core.db: write batches and the lost-race retry."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from core import db
from customers.models import Customer
from testsupport.api import make_merchant


def new_customer(merchant, **fields) -> Customer:
    defaults = {"merchant": merchant, "livemode": False, "type": "individual", "name": "Ana", "country": "AR"}
    return Customer(**{**defaults, **fields})


def stored(customer: Customer) -> dict:
    row = Customer.objects.get(public_id=customer.public_id)
    return {**model_to_dict(row, exclude=["id"]), "created_at": row.created_at, "public_id": row.public_id}


def test_a_batched_insert_stores_what_save_stores(merchant):
    saved = new_customer(merchant.merchant, metadata={"ref": "A-1"}, email="ana@example.com")
    saved.save()
    with transaction.atomic(), db.write_batch():
        batched = new_customer(merchant.merchant, metadata={"ref": "A-1"}, email="ana@example.com")
        db.insert(batched)
    assert batched.pk is None  # no RETURNING: the public id is the handle
    expected = {**stored(saved), "public_id": batched.public_id, "created_at": batched.created_at}
    assert stored(batched) == expected


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_batch_is_one_round_trip_and_one_transaction():
    merchant = make_merchant().merchant
    first, second = new_customer(merchant), new_customer(merchant)
    with CaptureQueriesContext(connection) as queries:
        with db.write_batch():
            db.insert(first)
            db.insert(second)
            db.update(Customer.objects.filter(public_id=first.public_id), name="Ana María")
            queued = len(queries)
        sent = len(queries)
    assert (queued, sent) == (0, 1)
    assert Customer.objects.get(public_id=first.public_id).name == "Ana María"
    assert Customer.objects.filter(public_id=second.public_id).exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_halfway_writes_nothing():
    merchant = make_merchant().merchant
    kept_out = new_customer(merchant)
    with pytest.raises(IntegrityError), db.write_batch():
        db.insert(kept_out)
        db.insert(new_customer(merchant, name=""))  # breaks customer_name_not_blank
    assert not Customer.objects.filter(public_id=kept_out.public_id).exists()


def test_inside_a_transaction_a_failed_batch_undoes_only_itself(merchant):
    with transaction.atomic():
        before = new_customer(merchant.merchant)
        before.save()
        with pytest.raises(IntegrityError), db.write_batch():
            db.insert(new_customer(merchant.merchant, name=""))
        assert Customer.objects.filter(pk=before.pk).exists()  # the transaction is still usable


def test_batch_only_refuses_a_write_sent_outside_the_batch(merchant):
    with pytest.raises(db.WriteOutsideBatch), transaction.atomic(), db.write_batch(), db.batch_only():
        new_customer(merchant.merchant).save()
    with db.write_batch(), db.batch_only():
        db.insert(new_customer(merchant.merchant))  # queued, sent after batch_only ends
        assert Customer.objects.count() == 0  # reads are fine
    assert Customer.objects.count() == 1


def test_a_block_that_fails_sends_nothing(merchant):
    with pytest.raises(RuntimeError), transaction.atomic(), db.write_batch():
        db.insert(new_customer(merchant.merchant))
        raise RuntimeError("validation failed after the write was queued")
    assert not Customer.objects.exists()


def test_outside_a_batch_writes_run_at_once_and_get_their_pk(merchant):
    customer = new_customer(merchant.merchant)
    db.insert(customer)
    assert customer.pk is not None
    db.update(Customer.objects.filter(pk=customer.pk), name="Now")
    assert Customer.objects.get(pk=customer.pk).name == "Now"


def test_only_a_lost_race_to_a_unique_index_runs_again(merchant):
    customer = new_customer(merchant.merchant)
    customer.save()
    attempts = []

    def insert_the_same_public_id_again():
        attempts.append(1)
        with transaction.atomic():
            new_customer(merchant.merchant, public_id=customer.public_id).save()

    with pytest.raises(IntegrityError):
        db.retry_on_lost_race(insert_the_same_public_id_again)
    assert len(attempts) == 2  # ran again once, then gave up: the second error is the caller's

    attempts.clear()

    def break_a_check_constraint():
        attempts.append(1)
        with transaction.atomic():
            new_customer(merchant.merchant, name="").save()

    with pytest.raises(IntegrityError):
        db.retry_on_lost_race(break_a_check_constraint)
    assert len(attempts) == 1  # not a race: no second run


@pytest.mark.parametrize(
    "statement",
    [
        "WITH moved AS (UPDATE customers_customer SET name = 'x' RETURNING id) SELECT * FROM moved",
        "COPY customers_customer FROM STDIN",
        "  /* a comment */ -- another\n INSERT INTO customers_customer DEFAULT VALUES",
        "SET statement_timeout = 0",
        "DO $$ BEGIN PERFORM 1; END $$",
    ],
)
@pytest.mark.django_db
def test_batch_only_fails_closed_on_anything_but_a_read(statement):
    with pytest.raises(db.WriteOutsideBatch), db.batch_only(), connection.cursor() as cursor:
        cursor.execute(statement)


def test_batch_only_lets_reads_through_whatever_precedes_them(merchant):
    with db.batch_only(), connection.cursor() as cursor:
        cursor.execute("/* why */ -- and how\n  SELECT count(*) FROM customers_customer")
        assert cursor.fetchone() == (0,)


class Refused(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_statement_that_refuses_with_a_registered_sqlstate_raises_its_error_and_writes_nothing(monkeypatch):
    monkeypatch.setattr(db, "_refusals", {})
    db.register_refusal("ZZ001", lambda detail: Refused(detail))
    merchant = make_merchant().merchant
    kept_out = new_customer(merchant)
    refuse = "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'ZZ001', DETAIL = '{\"why\": \"over\"}'; END $$"
    with pytest.raises(Refused) as raised, db.write_batch():
        db.insert(kept_out)
        db.execute(refuse, ())
    assert str(raised.value) == '{"why": "over"}'
    assert not Customer.objects.filter(public_id=kept_out.public_id).exists()
    other = "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'ZZ002'; END $$"
    with pytest.raises(DatabaseError), db.write_batch():  # not registered: the database's error as it is
        db.execute(other, ())
