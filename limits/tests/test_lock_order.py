"""Lock order between payouts, decisions and limit changes, on real threads on PostgreSQL: each test parks
one side on a lock held by a third thread, lets the other side block behind it, then lets go; the outcome
must be what running them one after the other would give, never a deadlock and never a limit passed."""

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

from customers.models import Customer
from customers.services import customer_verification_set
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT
from limits.models import PayoutLimitChange
from limits.services import limit_change_approve, limits_set
from payouts.models import Payout
from testsupport.api import ApiClient, make_merchant
from testsupport.races import sessions_waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until_blocked(count: int) -> None:
    """Until `count` sessions wait on a lock (observed in pg_stat_activity: a condition, not a fixed sleep)."""
    stop = threading.Event()
    for _ in range(1000):
        if sessions_waiting_on_a_lock() >= count:
            return
        stop.wait(0.01)
    raise AssertionError(f"{count} sessions never blocked")


def in_thread(results: dict, name: str, run: Callable[[], object]) -> threading.Thread:
    def target():
        try:
            results[name] = run()
        except Exception as error:  # the outcome is what the test checks
            results[name] = repr(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def holding(sql: str, params: list) -> tuple[threading.Thread, threading.Event]:
    """A thread holding the rows `sql` locks until the returned event is set."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    return thread, release


def merchant_with_customer(name: str):
    keys = make_merchant(name)
    api = ApiClient(keys.test)
    customer = api.post("/customers", {"type": "individual", "name": "X", "country": "AR"}).json()["customerId"]
    assert api.post(f"/customers/{customer}/bank-accounts", DOC_BANK_ACCOUNT).status_code == 201
    staff = get_user_model().objects.create_superuser(f"root-{name}", f"{name}@example.com", "pw-long-enough-123")
    return keys, api, customer, staff


def test_rejecting_a_customer_while_a_payout_to_it_is_written_takes_effect():
    keys, api, customer, staff = merchant_with_customer("reject")
    limits = {"daily_max": Decimal("100000.00"), "customer_daily_max": Decimal("100000.00")}
    limits_set(merchant=keys.merchant, livemode=False, values=limits, by=staff)
    body = {"amount": "100.00", "currency": "ARS", "customerId": customer}
    assert api.post("/payouts", body).status_code == 201  # the counters exist
    results: dict = {}
    holder, release = holding(
        "SELECT 1 FROM limits_payoutlimitusage WHERE customer_public_id = %s FOR UPDATE", [customer]
    )
    create = in_thread(results, "create", lambda: ApiClient(keys.test).post("/payouts", body).status_code)
    wait_until_blocked(1)
    reject = in_thread(
        results,
        "reject",
        lambda: (
            customer_verification_set(
                customer=Customer.objects.get(public_id=customer),
                status=Customer.Verification.REJECTED,
                reviewer=staff,
                reason="fraud",
            )
            and "ok"
        ),
    )
    wait_until_blocked(2)
    release.set()
    for thread in (holder, create, reject):
        thread.join(30)
    assert results == {"create": 201, "reject": "ok"}, results
    statuses = set(Payout.objects.filter(customer_public_id=customer).values_list("status", flat=True))
    assert statuses == {"failed"}  # the rejection failed both, the one written meanwhile included


def test_a_daily_limit_set_while_a_payout_is_in_flight_counts_it():
    keys, api, customer, staff = merchant_with_customer("inflight")
    limits_set(merchant=keys.merchant, livemode=False, values={"customer_daily_max": Decimal("1000.00")}, by=staff)
    assert api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": customer}).status_code == 201
    results: dict = {}
    holder, release = holding(
        "SELECT 1 FROM limits_payoutlimitusage WHERE customer_public_id = %s FOR UPDATE", [customer]
    )
    body = {"amount": "100.00", "currency": "ARS", "customerId": customer}
    in_flight = in_thread(results, "in_flight", lambda: ApiClient(keys.test).post("/payouts", body).status_code)
    wait_until_blocked(1)  # it read the limits (no daily one yet) and waits on the customer's counter
    stricter = {"daily_max": Decimal("150.00")}
    setting = in_thread(
        results, "set", lambda: limits_set(merchant=keys.merchant, livemode=False, values=stricter, by=staff) and "ok"
    )
    wait_until_blocked(2)  # the admin's change waits for the payout that read the old limits
    release.set()
    for thread in (holder, in_flight, setting):
        thread.join(30)
    assert results == {"in_flight": 201, "set": "ok"}, results
    one_off = {"amount": "49.00", "currency": "ARS", "destinationCbu": DOC_ACCOUNT_NUMBER}
    assert api.post("/payouts", one_off).status_code == 201  # 1 + 100 + 49 = 150
    refused = api.post("/payouts", one_off)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "limit_exceeded")
    total = sum(Payout.objects.filter(merchant=keys.merchant).values_list("amount", flat=True))
    assert total == Decimal("150.00")
    assert api.get("/limits").json()["daily"]["used"] == "150.00"


def test_approving_a_raise_while_another_admin_proposes_one_never_deadlocks():
    keys = make_merchant("raise")
    users = get_user_model().objects
    ana, bruno, carlos = (
        users.create_superuser(n, f"{n}@example.com", "pw-long-enough-123") for n in ("ana", "bruno", "carlos")
    )
    limits_set(merchant=keys.merchant, livemode=False, values={"daily_max": Decimal("100.00")}, by=ana)
    change = limits_set(merchant=keys.merchant, livemode=False, values={"daily_max": Decimal("500.00")}, by=ana).pending
    results: dict = {}
    holder, release = holding("SELECT 1 FROM limits_payoutlimitchange WHERE id = %s FOR UPDATE", [change.pk])
    approve = in_thread(results, "approve", lambda: limit_change_approve(change=change, by=bruno) and "ok")
    wait_until_blocked(1)
    raise_ = {"daily_max": Decimal("900.00")}
    propose = in_thread(
        results,
        "propose",
        lambda: limits_set(merchant=keys.merchant, livemode=False, values=raise_, by=carlos) and "ok",
    )
    wait_until_blocked(2)
    release.set()
    for thread in (holder, approve, propose):
        thread.join(30)
    assert "deadlock" not in str(results), results
    assert set(results.values()) <= {"ok"} or "no longer pending" in str(results), results
    statuses = sorted(PayoutLimitChange.objects.values_list("status", flat=True))
    assert statuses in (["approved", "pending"], ["pending", "superseded"]), statuses
