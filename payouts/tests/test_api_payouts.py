"""POST/GET /payouts and cancel, through HTTP with real keys."""

import re
from decimal import Decimal

import pytest
from django.core.management import call_command

from customers.tests.factories import DOC_ACCOUNT_NUMBER, make_cbu
from payouts.models import Payout, PayoutEvent

PO_ID = re.compile(r"^po_[A-Za-z0-9]{24}$")


def errors(response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.content
    return [(e["param"], e["code"]) for e in response.json()["error"]["errors"]]


def test_the_docs_payout_end_to_end(api, payee):
    """Create the customer, add the doc's account, pay "5000.00", see last_out, settle it to paid."""
    body = {
        "amount": "5000.00",
        "currency": "ARS",
        "destinationCbu": DOC_ACCOUNT_NUMBER,
        "customerId": payee["customerId"],
    }
    response = api.post("/payouts", body)
    assert response.status_code == 201
    payout = response.json()
    assert PO_ID.match(payout["payoutId"])
    assert {
        k: payout[k] for k in ("amount", "currency", "status", "customerId", "bankAccountId", "destinationLast4")
    } == {
        "amount": "5000.00",
        "currency": "ARS",
        "status": "pending",
        "customerId": payee["customerId"],
        "bankAccountId": payee["account"]["bankAccountId"],
        "destinationLast4": "1644",
    }
    assert (payout["failureCode"], payout["failureMessage"], payout["livemode"]) == (None, None, False)
    customer = api.get(f"/customers/{payee['customerId']}").json()
    assert customer["last_out"] == payout["createdAt"]
    call_command("process_payouts", "--once", stdout=open("/dev/null", "w"))
    assert api.get(f"/payouts/{payout['payoutId']}").json()["status"] == "paid"
    assert list(PayoutEvent.objects.order_by("id").values_list("from_status", "to_status")) == [
        ("pending", "processing"),
        ("processing", "paid"),
    ]


def test_response_fields(api, payee):
    payout = api.post(
        "/payouts",
        {
            "amount": "10.5",
            "currency": "ARS",
            "customerId": payee["customerId"],
            "description": "May",
            "metadata": {"a": "b"},
        },
    ).json()
    assert set(payout) == {
        "payoutId", "amount", "currency", "status", "customerId", "bankAccountId", "destinationLast4",
        "description", "metadata", "failureCode", "failureMessage", "holdReasons", "createdAt", "livemode",
    }  # fmt: skip
    assert (payout["amount"], payout["description"], payout["metadata"]) == ("10.50", "May", {"a": "b"})
    assert DOC_ACCOUNT_NUMBER not in str(payout)


def test_customer_alone_pays_its_default_account(api, payee):
    payout = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    assert payout["bankAccountId"] == payee["account"]["bankAccountId"]


def test_customer_and_bank_account(api, payee):
    fields = ("country", "currency", "rail", "accountType", "holderName")
    body = {**{k: v for k, v in payee["account"].items() if k in fields}, "accountNumber": make_cbu()}
    other = api.post(f"/customers/{payee['customerId']}/bank-accounts", body).json()
    body = {
        "amount": "1.00",
        "currency": "ARS",
        "customerId": payee["customerId"],
        "bankAccountId": other["bankAccountId"],
    }
    payout = api.post("/payouts", body).json()
    assert (payout["bankAccountId"], payout["destinationLast4"]) == (
        other["bankAccountId"],
        other["accountNumberLast4"],
    )


def test_one_off_payout(api):
    payout = api.post("/payouts", {"amount": "99.99", "currency": "ARS", "destinationCbu": make_cbu()}).json()
    assert (payout["customerId"], payout["bankAccountId"], payout["destinationLast4"]) == (None, None, make_cbu()[-4:])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"amount": 5000.0}, [("amount", "amount_not_a_string")]),
        ({"amount": 5000}, [("amount", "amount_not_a_string")]),
        ({"amount": "5000.001"}, [("amount", "amount_invalid")]),
        ({"amount": "1e3"}, [("amount", "amount_invalid")]),
        ({"amount": "-5"}, [("amount", "amount_invalid")]),
        ({"amount": " 5"}, [("amount", "amount_invalid")]),
        ({"amount": "05.00"}, [("amount", "amount_invalid")]),
        ({"amount": "NaN"}, [("amount", "amount_invalid")]),
        ({"amount": "0"}, [("amount", "amount_too_small")]),
        ({"amount": "0.00"}, [("amount", "amount_too_small")]),
        ({"amount": "10000000.01"}, [("amount", "amount_too_large")]),
        ({"currency": "USD"}, [("currency", "unsupported_currency")]),
        ({"destinationCbu": "0070327530004025541645"}, [("destinationCbu", "account_number_invalid_account_block")]),
        ({"payoutId": "po_x"}, [("payoutId", "parameter_read_only")]),
        ({"status": "paid"}, [("status", "parameter_read_only")]),
        ({"amout": "1"}, [("amout", "parameter_unknown")]),
    ],
)
def test_field_rules(api, body, expected):
    base = {"amount": "5000.00", "currency": "ARS", "destinationCbu": DOC_ACCOUNT_NUMBER}
    assert errors(api.post("/payouts", {**base, **body})) == expected
    assert Payout.objects.count() == 0


def test_amount_limits_are_exact(api, settings):
    settings.PAYOUT_MAX_AMOUNT = "100.00"
    base = {"currency": "ARS", "destinationCbu": DOC_ACCOUNT_NUMBER}
    assert api.post("/payouts", {**base, "amount": "100.00"}).json()["amount"] == "100.00"
    assert api.post("/payouts", {**base, "amount": "0.01"}).json()["amount"] == "0.01"
    assert errors(api.post("/payouts", {**base, "amount": "100.01"})) == [("amount", "amount_too_large")]
    assert Payout.objects.get(amount=Decimal("0.01")).amount == Decimal("0.01")


def test_destination_rules(api, payee, create_customer):
    cust = payee["customerId"]
    no_default = create_customer(name="No account")["customerId"]
    cases = [
        ({}, [("destinationCbu", "parameter_missing")]),
        ({"bankAccountId": payee["account"]["bankAccountId"]}, [("customerId", "parameter_missing")]),
        ({"customerId": cust, "destinationCbu": make_cbu()}, [("destinationCbu", "destination_mismatch")]),
        ({"customerId": no_default}, [("customerId", "no_default_bank_account")]),
        ({"customerId": "cust_" + "x" * 24}, [("customerId", "invalid_customer")]),
        ({"customerId": cust, "bankAccountId": "ba_" + "x" * 24}, [("bankAccountId", "invalid_bank_account")]),
        (
            {"customerId": cust, "bankAccountId": payee["account"]["bankAccountId"], "destinationCbu": make_cbu()},
            [("destinationCbu", "destination_mismatch")],
        ),
    ]
    for extra, expected in cases:
        assert errors(api.post("/payouts", {"amount": "1.00", "currency": "ARS", **extra})) == expected, extra
    assert Payout.objects.count() == 0


def test_disabled_or_numberless_accounts_cannot_receive(api, payee):
    path = f"/customers/{payee['customerId']}/bank-accounts"
    api.delete(f"{path}/{payee['account']['bankAccountId']}")
    body = {"amount": "1.00", "currency": "ARS", "customerId": payee["customerId"]}
    assert errors(api.post("/payouts", body)) == [("customerId", "no_default_bank_account")]
    body["bankAccountId"] = payee["account"]["bankAccountId"]
    assert errors(api.post("/payouts", body)) == [("bankAccountId", "invalid_bank_account")]
    body = {**body, "bankAccountId": None}
    body.pop("bankAccountId")
    body["destinationCbu"] = DOC_ACCOUNT_NUMBER
    assert errors(api.post("/payouts", body)) == [("destinationCbu", "destination_mismatch")]


def test_other_merchants_and_modes_customers_cannot_be_paid(other_api, live_api, payee, live_payouts_enabled):
    for client in (other_api, live_api):
        body = {"amount": "1.00", "currency": "ARS", "customerId": payee["customerId"]}
        assert errors(client.post("/payouts", body)) == [("customerId", "invalid_customer")]


def test_retrieve_list_and_isolation(api, other_api, live_api, payee):
    first = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    second = api.post("/payouts", {"amount": "2.00", "currency": "ARS", "destinationCbu": make_cbu()}).json()
    assert api.get(f"/payouts/{first['payoutId']}").json() == first
    assert api.get("/payouts").json() == {"data": [second, first], "hasMore": False}
    assert api.get("/payouts", {"customerId": payee["customerId"]}).json()["data"] == [first]
    assert api.get("/payouts", {"status": "paid"}).json()["data"] == []
    assert api.get("/payouts", {"limit": 1, "startingAfter": second["payoutId"]}).json()["data"] == [first]
    assert api.get("/payouts", {"customerId": "nope"}).status_code == 400
    for client in (other_api, live_api):
        assert client.get(f"/payouts/{first['payoutId']}").status_code == 404
        assert client.post(f"/payouts/{first['payoutId']}/cancel").status_code == 404
        assert client.get("/payouts").json()["data"] == []


def test_cancel_pending_then_409_with_current_status(api, payee):
    payout = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    response = api.post(f"/payouts/{payout['payoutId']}/cancel")
    assert response.status_code == 200 and response.json() == {**payout, "status": "canceled"}
    again = api.post(f"/payouts/{payout['payoutId']}/cancel")
    assert again.status_code == 409
    assert (again.json()["error"]["code"], again.json()["error"]["status"]) == ("payout_not_cancelable", "canceled")
    call_command("process_payouts", "--once", stdout=open("/dev/null", "w"))
    assert api.get(f"/payouts/{payout['payoutId']}").json()["status"] == "canceled"  # never sent


def test_cannot_cancel_once_processing_or_paid(api, payee):
    payout = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    call_command("process_payouts", "--once", stdout=open("/dev/null", "w"))
    response = api.post(f"/payouts/{payout['payoutId']}/cancel")
    assert response.status_code == 409 and response.json()["error"]["status"] == "paid"


def test_cancel_takes_no_parameters(api, payee):
    payout = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    assert errors(api.post(f"/payouts/{payout['payoutId']}/cancel", {"reason": "x"})) == [
        ("reason", "parameter_unknown")
    ]
    assert api.get(f"/payouts/{payout['payoutId']}").json()["status"] == "pending"
