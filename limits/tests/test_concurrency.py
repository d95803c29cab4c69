"""Concurrent payouts can never exceed a limit together: real threads, real keys, real PostgreSQL
transactions (each POST its own connection), all released at once."""

from decimal import Decimal

import pytest

from customers.tests.factories import DOC_BANK_ACCOUNT, make_cbu
from events.models import Event
from payouts.models import Payout
from testsupport.api import ApiClient, make_merchant, run_at_once

THREADS = 12


def post_at_once(key: str, body: dict) -> list[tuple[int, dict]]:
    def post():
        response = ApiClient(key).post("/payouts", body)
        return response.status_code, response.json()

    return run_at_once(THREADS, post)


def outcome(results: list[tuple[int, dict]], limit: str) -> tuple[int, int]:
    created = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status == 403]
    assert len(created) + len(refused) == THREADS, results
    assert {body["error"]["code"] for body in refused} <= {"limit_exceeded"}
    assert {body["error"]["limit"]["type"] for body in refused} <= {limit}
    return len(created), len(refused)


@pytest.mark.django_db(transaction=True)
def test_concurrent_payouts_never_exceed_the_daily_limit_together(set_limits):
    keys = make_merchant("Race")
    set_limits(keys.merchant, daily_max=Decimal("500.00"))
    body = {"amount": "100.00", "currency": "ARS", "destinationCbu": make_cbu(account="9400904181300")}

    created, refused = outcome(post_at_once(keys.test, body), "daily")

    assert (created, refused) == (5, THREADS - 5)
    total = sum(Payout.objects.filter(merchant=keys.merchant).values_list("amount", flat=True))
    assert total == Decimal("500.00")
    # A refused payout left nothing behind: no event, no idempotency record, only the winners' rows.
    assert Event.objects.filter(merchant=keys.merchant, type="payout.created").count() == 5
    assert ApiClient(keys.test).get("/limits").json()["daily"] == {
        "amount": "500.00",
        "used": "500.00",
        "remaining": "0.00",
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_payouts_never_exceed_the_per_customer_limit_together(set_limits):
    keys = make_merchant("Race")
    api = ApiClient(keys.test)
    customer = api.post("/customers", {"type": "individual", "name": "Racer", "country": "AR"}).json()
    api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    set_limits(keys.merchant, customer_daily_max=Decimal("300.00"))
    body = {"amount": "100.00", "currency": "ARS", "customerId": customer["customerId"]}

    created, refused = outcome(post_at_once(keys.test, body), "customer_daily")

    assert (created, refused) == (3, THREADS - 3)
    paid = Payout.objects.filter(customer_public_id=customer["customerId"]).values_list("amount", flat=True)
    assert sum(paid) == Decimal("300.00")


@pytest.mark.django_db(transaction=True)
def test_cancels_and_new_payouts_at_once_keep_the_counters_true(set_limits):
    """Releases lock the counters in the order payouts take them: no deadlock, and the day's counter and
    the customer's end equal to what still counts."""
    keys = make_merchant("Race")
    api = ApiClient(keys.test)
    customer = api.post("/customers", {"type": "individual", "name": "Racer", "country": "AR"}).json()
    api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    set_limits(keys.merchant, daily_max=Decimal("1000.00"), customer_daily_max=Decimal("900.00"))
    body = {"amount": "100.00", "currency": "ARS", "customerId": customer["customerId"]}
    to_cancel = iter([api.post("/payouts", body).json()["payoutId"] for _ in range(THREADS // 2)])
    jobs = iter([("cancel", next(to_cancel)) if i % 2 else ("create", None) for i in range(THREADS)])

    def one_job():
        kind, payout_id = next(jobs)  # next() on a shared iterator: each thread takes its own job
        client = ApiClient(keys.test)
        response = client.post(f"/payouts/{payout_id}/cancel") if kind == "cancel" else client.post("/payouts", body)
        return kind, response.status_code, response.json()

    results = run_at_once(THREADS, one_job)

    assert sorted(status for kind, status, _ in results if kind == "cancel") == [200] * (THREADS // 2)
    assert {status for kind, status, _ in results if kind == "create"} <= {201, 403}
    standing = Payout.objects.filter(merchant=keys.merchant).exclude(status="canceled")
    counted = sum(standing.values_list("amount", flat=True))
    shown = api.get("/limits", {"customerId": customer["customerId"]}).json()
    assert shown["daily"]["used"] == shown["customerDaily"]["used"] == f"{counted:.2f}"
    assert counted <= Decimal("900.00")
