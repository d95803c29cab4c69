"""Limits through the API with real keys: POST /payouts refused over a limit, GET /limits."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.tests.factories import make_cbu
from events.models import Event
from limits.models import PayoutLimitUsage
from payouts.models import Payout

D = Decimal


def post_payout(api, amount: str, customer: dict | None = None, **headers):
    body = {"amount": amount, "currency": "ARS"}
    if customer is not None:
        body["customerId"] = customer["customerId"]
    return api.post("/payouts", body, headers=headers or None)


@pytest.fixture
def second_payee(api, create_customer):
    from customers.tests.factories import DOC_BANK_ACCOUNT, make_cbu

    customer = create_customer(email="otra@example.com")
    api.post(
        f"/customers/{customer['customerId']}/bank-accounts",
        {**DOC_BANK_ACCOUNT, "accountNumber": make_cbu(account=f"94009041813{2:02d}")},
    )
    return customer


def body_day_end(api) -> str:
    """Tomorrow's midnight in Argentina, in UTC as the API shows times: 03:00Z."""
    body = api.get("/limits").json()
    tomorrow = date.fromisoformat(body["day"]) + timedelta(days=1)
    assert body["resetsAt"] == f"{tomorrow.isoformat()}T03:00:00Z"
    return body["resetsAt"]


def test_without_limits_payouts_pass_and_get_limits_shows_none(api, payee):
    assert post_payout(api, "900000.00", payee).status_code == 201
    body = api.get("/limits").json()
    assert body["object"] == "limits"
    assert body["currency"] == "ARS"
    assert body["livemode"] is False
    assert body["timeZone"] == "America/Argentina/Buenos_Aires"
    assert body["single"] == {"amount": None}
    assert body["daily"] == {"amount": None, "used": "900000.00", "remaining": None}
    assert body["customerDaily"] == {"customerId": None, "amount": None, "used": None, "remaining": None}
    assert not PayoutLimitUsage.objects.exists()  # nothing counted while no limit needs it


def test_a_payout_over_the_single_limit_is_refused_and_writes_nothing(api, payee, merchant, set_limits):
    set_limits(merchant.merchant, single_max=D("1000.00"))
    events_before = Event.objects.count()
    response = post_payout(api, "1000.01", payee)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "limit_exceeded"
    assert error["param"] == "amount"
    assert error["message"] == "The amount is over the maximum single payout of 1000.00 ARS."
    assert error["limit"] == {"type": "single", "amount": "1000.00", "currency": "ARS", "remaining": "1000.00"}
    assert not Payout.objects.exists()
    assert Event.objects.count() == events_before
    assert post_payout(api, "1000.00", payee).status_code == 201


def test_the_daily_limit_counts_the_day_and_says_what_remains(api, payee, merchant, set_limits):
    set_limits(merchant.merchant, daily_max=D("1000.00"))
    assert post_payout(api, "600.00", payee).status_code == 201
    response = post_payout(api, "400.01", payee)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "limit_exceeded"
    assert error["limit"]["type"] == "daily"
    assert error["limit"]["amount"] == "1000.00"
    assert error["limit"]["used"] == "600.00"
    assert error["limit"]["remaining"] == "400.00"
    assert error["limit"]["resetsAt"] == body_day_end(api)
    assert "400.00 ARS remain today" in error["message"]
    assert post_payout(api, "400.00", payee).status_code == 201
    body = api.get("/limits").json()
    assert body["daily"] == {"amount": "1000.00", "used": "1000.00", "remaining": "0.00"}
    assert Payout.objects.count() == 2


def test_one_off_payouts_count_towards_the_daily_limit(api, merchant, set_limits):
    from customers.tests.factories import make_cbu

    set_limits(merchant.merchant, daily_max=D("100.00"), customer_daily_max=D("50.00"))
    one_off = {"amount": "80.00", "currency": "ARS", "destinationCbu": make_cbu(account=f"94009041813{7:02d}")}
    assert api.post("/payouts", one_off).status_code == 201  # no customer: the customer limit does not apply
    response = api.post("/payouts", {**one_off, "amount": "20.01"})
    assert response.json()["error"]["limit"]["type"] == "daily"


def test_the_per_customer_limit_is_per_customer(api, payee, second_payee, merchant, set_limits):
    set_limits(merchant.merchant, customer_daily_max=D("500.00"))
    assert post_payout(api, "400.00", payee).status_code == 201
    response = post_payout(api, "100.01", payee)
    assert response.status_code == 403
    assert response.json()["error"]["limit"] == {
        "type": "customer_daily",
        "amount": "500.00",
        "currency": "ARS",
        "used": "400.00",
        "remaining": "100.00",
        "resetsAt": response.json()["error"]["limit"]["resetsAt"],
    }
    assert "this customer's daily payouts" in response.json()["error"]["message"]
    assert post_payout(api, "500.00", second_payee).status_code == 201
    shown = api.get("/limits", {"customerId": payee["customerId"]}).json()["customerDaily"]
    assert shown == {"customerId": payee["customerId"], "amount": "500.00", "used": "400.00", "remaining": "100.00"}


def test_a_canceled_payout_gives_its_amount_back(api, payee, merchant, set_limits):
    set_limits(merchant.merchant, daily_max=D("1000.00"), customer_daily_max=D("1000.00"))
    first = post_payout(api, "1000.00", payee).json()
    assert post_payout(api, "1.00", payee).status_code == 403
    assert api.post(f"/payouts/{first['payoutId']}/cancel").status_code == 200
    assert api.get("/limits", {"customerId": payee["customerId"]}).json()["customerDaily"]["used"] == "0.00"
    assert post_payout(api, "1000.00", payee).status_code == 201


def test_a_payout_failed_by_compliance_gives_its_amount_back(api, payee, merchant, set_limits):
    from customers.models import Customer
    from customers.services import customer_verification_set

    set_limits(merchant.merchant, daily_max=D("1000.00"))
    post_payout(api, "700.00", payee)
    customer = Customer.objects.get(public_id=payee["customerId"])
    customer_verification_set(customer=customer, status="rejected", reviewer=None, reason="Sanctions list match")
    assert api.get("/limits").json()["daily"]["used"] == "0.00"


def test_an_idempotent_retry_does_not_count_twice(api, payee, merchant, set_limits):
    set_limits(merchant.merchant, daily_max=D("1000.00"))
    first = post_payout(api, "600.00", payee, **{"Idempotency-Key": "k-1"})
    again = post_payout(api, "600.00", payee, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert api.get("/limits").json()["daily"]["used"] == "600.00"
    # A refused request does not use up its key: the same key works once the amount fits.
    refused = post_payout(api, "500.00", payee, **{"Idempotency-Key": "k-2"})
    assert refused.status_code == 403
    assert post_payout(api, "400.00", payee, **{"Idempotency-Key": "k-2"}).status_code == 201
    assert api.get("/limits").json()["daily"]["used"] == "1000.00"


def test_a_limit_set_during_the_day_counts_the_days_payouts_so_far(api, payee, merchant, set_limits):
    assert post_payout(api, "700.00", payee).status_code == 201
    set_limits(merchant.merchant, daily_max=D("1000.00"), customer_daily_max=D("800.00"))
    response = post_payout(api, "300.01", payee)
    assert response.json()["error"]["limit"]["remaining"] == "300.00"
    response = post_payout(api, "100.01", payee)
    assert response.json()["error"]["limit"] == {
        **response.json()["error"]["limit"],
        "type": "customer_daily",
        "remaining": "100.00",
    }


def test_limits_are_per_mode(api, live_api, payee, merchant, set_limits, live_payouts_enabled):
    set_limits(merchant.merchant, livemode=True, single_max=D("10.00"))
    assert post_payout(api, "500.00", payee).status_code == 201
    assert api.get("/limits").json()["single"]["amount"] is None
    assert live_api.get("/limits").json()["single"]["amount"] == "10.00"
    from customers.tests.factories import make_cbu

    refused = live_api.post(
        "/payouts", {"amount": "10.01", "currency": "ARS", "destinationCbu": make_cbu(account=f"94009041813{3:02d}")}
    )
    assert refused.json()["error"]["code"] == "limit_exceeded"


def test_limits_are_per_merchant(api, other_api, payee, merchant, set_limits):
    from customers.tests.factories import make_cbu

    set_limits(merchant.merchant, single_max=D("10.00"))
    one_off = {"amount": "500.00", "currency": "ARS", "destinationCbu": make_cbu(account=f"94009041813{4:02d}")}
    assert other_api.post("/payouts", one_off).status_code == 201
    assert api.post("/payouts", one_off).status_code == 403


def test_get_limits_checks_the_customer(api, other_api, payee):
    bad = api.get("/limits", {"customerId": "cust_\x00"})
    assert bad.status_code == 400
    assert bad.json()["error"]["errors"][0]["param"] == "customerId"
    unknown = other_api.get("/limits", {"customerId": payee["customerId"]})  # another merchant's customer
    assert unknown.status_code == 400
    assert unknown.json()["error"]["errors"][0]["code"] == "invalid_customer"
    assert api.get("/limits", {"limit": "3"}).json()["error"]["errors"][0]["code"] == "parameter_unknown"
    assert api.get("/limits", {"customerId": ""}).json()["error"]["errors"][0]["code"] == "parameter_blank"
    twice = api.get("/limits", {"customerId": [payee["customerId"], payee["customerId"]]})
    assert twice.json()["error"]["errors"][0] == {
        "param": "customerId",
        "code": "parameter_invalid",
        "message": "customerId must be given once.",
    }
    assert api.get("/limits", key="").status_code == 401


def test_lowering_a_limit_below_todays_usage_refuses_the_next_payout(api, payee, merchant, set_limits):
    set_limits(merchant.merchant, daily_max=D("1000.00"))
    assert post_payout(api, "800.00", payee).status_code == 201
    set_limits(merchant.merchant, daily_max=D("500.00"))  # the payout already accepted stands
    refused = post_payout(api, "0.01", payee)
    assert refused.json()["error"]["limit"] == {
        **refused.json()["error"]["limit"],
        "used": "800.00",
        "remaining": "0.00",
    }
    assert api.get("/limits").json()["daily"] == {"amount": "500.00", "used": "800.00", "remaining": "0.00"}
    assert Payout.objects.get().status == "pending"


def test_a_payout_the_bank_fails_gives_its_amount_back_and_a_paid_one_keeps_counting(api, merchant, set_limits):
    from payouts.rails import SANDBOX_FAILURES
    from payouts.worker import PayoutWorker

    set_limits(merchant.merchant, daily_max=D("1000.00"))
    closed = next(number for number, (code, _) in SANDBOX_FAILURES.items() if code == "account_closed")
    failing = api.post("/payouts", {"amount": "300.00", "currency": "ARS", "destinationCbu": closed}).json()
    paid = api.post("/payouts", {"amount": "200.00", "currency": "ARS", "destinationCbu": make_cbu()}).json()
    assert api.get("/limits").json()["daily"]["used"] == "500.00"
    PayoutWorker().run_once()
    assert api.get(f"/payouts/{failing['payoutId']}").json()["status"] == "failed"
    assert api.get(f"/payouts/{paid['payoutId']}").json()["status"] == "paid"
    assert api.get("/limits").json()["daily"] == {"amount": "1000.00", "used": "200.00", "remaining": "800.00"}


def test_a_counter_started_during_the_day_counts_only_that_days_payouts(api, payee, merchant, set_limits):
    yesterday = post_payout(api, "500.00", payee).json()
    Payout.objects.filter(public_id=yesterday["payoutId"]).update(created_at=timezone.now() - timedelta(days=1))
    assert post_payout(api, "300.00", payee).status_code == 201
    set_limits(merchant.merchant, daily_max=D("1000.00"), customer_daily_max=D("1000.00"))
    refused = post_payout(api, "700.01", payee).json()["error"]["limit"]
    assert (refused["type"], refused["used"]) == ("daily", "300.00")
    shown = api.get("/limits", {"customerId": payee["customerId"]}).json()
    assert shown["daily"]["used"] == shown["customerDaily"]["used"] == "300.00"
