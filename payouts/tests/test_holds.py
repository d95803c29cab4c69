"""Holds through the API with real keys: which payouts wait for compliance and why, what the merchant can do
with them, what the worker does (nothing), and the analysts' decisions with their events."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from audit.selectors import history
from compliance.roles import ANALYST
from customers.models import BankAccount, Customer
from customers.services import customer_verification_set
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT, make_cbu
from merchants.models import Merchant
from payouts.models import Payout, PayoutApproval, PayoutEvent, SandboxTransfer, VelocityHour
from payouts.services import (
    NotPermittedToDecide,
    PayoutNotHeld,
    SecondApprovalNeeded,
    payout_approve,
    payout_reject,
)
from testsupport.compliance import quiet_hold_rules, staff_member
from testsupport.tasks import run_tasks

OLD = timezone.now() - timedelta(days=30)


@pytest.fixture(autouse=True)
def quiet_rules(settings):
    """Every rule out of the way but the one a test turns on: thresholds far above the amounts used."""
    quiet_hold_rules(settings)


def analyst(username: str):
    return staff_member(username, ANALYST)


def pay(api, amount: str = "100.00", **destination) -> dict:
    response = api.post("/payouts", {"amount": amount, "currency": "ARS", **destination})
    assert response.status_code == 201, response.content
    return response.json()


def payout_row(body: dict) -> Payout:
    return Payout.objects.get(public_id=body["payoutId"])


def event_data(api, type: str) -> list[dict]:
    response = api.get("/events", {"type": type, "limit": 100})
    assert response.status_code == 200, response.content
    return [event["data"] for event in reversed(response.json()["data"])]


def run_worker() -> str:
    out = StringIO()
    call_command("process_payouts", "--once", stdout=out)
    return out.getvalue().strip()


# Creation: each rule, alone.


def test_a_payout_below_every_threshold_is_pending_with_no_reasons(api, payee):
    body = pay(api, customerId=payee["customerId"])
    assert (body["status"], body["holdReasons"]) == ("pending", [])
    assert [e["object"]["payoutId"] for e in event_data(api, "payout.held")] == []


def test_amount_at_the_threshold_is_held(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    assert pay(api, "999.99", customerId=payee["customerId"])["status"] == "pending"
    held = pay(api, "1000.00", customerId=payee["customerId"])
    assert (held["status"], held["holdReasons"]) == ("held", ["amount_over_threshold"])
    assert api.get(f"/payouts/{held['payoutId']}").json() == held


def test_a_merchants_own_threshold_wins_over_the_default(api, payee, merchant, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    Merchant.objects.filter(pk=merchant.merchant.pk).update(compliance_hold_amount=Decimal("50.00"))
    assert pay(api, "50.00", customerId=payee["customerId"])["holdReasons"] == ["amount_over_threshold"]
    Merchant.objects.filter(pk=merchant.merchant.pk).update(compliance_hold_amount=Decimal("5000.00"))
    assert pay(api, "1000.00", customerId=payee["customerId"])["status"] == "pending"


def test_an_account_flagged_for_review_holds_its_payouts(api, payee, create_customer):
    other = create_customer(name="Shares the number")
    api.post(f"/customers/{other['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)  # flags both accounts
    body = pay(api, customerId=payee["customerId"])
    assert (body["status"], body["holdReasons"]) == ("held", ["account_needs_review"])
    by_id = pay(api, customerId=payee["customerId"], bankAccountId=payee["account"]["bankAccountId"])
    assert by_id["holdReasons"] == ["account_needs_review"]
    one_off = pay(api, destinationCbu=DOC_ACCOUNT_NUMBER)
    assert one_off["holdReasons"] == ["account_needs_review"]


def test_another_flagged_account_puts_the_customer_under_review(api, payee):
    second = api.post(
        f"/customers/{payee['customerId']}/bank-accounts",
        {**DOC_BANK_ACCOUNT, "accountNumber": make_cbu(account="1111111111111")},
    )
    assert second.status_code == 201, second.content
    BankAccount.objects.filter(public_id=second.json()["bankAccountId"]).update(
        needs_review=True, review_reason="checked by hand"
    )
    body = pay(api, customerId=payee["customerId"])
    assert (body["status"], body["holdReasons"]) == ("held", ["customer_needs_review"])


def test_an_unverified_customer_above_the_lower_threshold_is_held_a_verified_one_is_not(api, payee, settings):
    settings.COMPLIANCE_UNVERIFIED_HOLD_AMOUNT = "500.00"
    assert pay(api, "500.00", customerId=payee["customerId"])["status"] == "pending"
    assert pay(api, "500.01", customerId=payee["customerId"])["holdReasons"] == ["customer_unverified"]
    Customer.objects.filter(public_id=payee["customerId"]).update(verification_status="verified")
    assert pay(api, "500.01", customerId=payee["customerId"])["status"] == "pending"


def test_a_large_payout_soon_after_the_number_changed_is_held_and_the_account_flagged(api, payee, settings):
    settings.COMPLIANCE_LARGE_PAYOUT_AMOUNT = "1000.00"
    body = pay(api, "1000.00", customerId=payee["customerId"])
    assert (body["status"], body["holdReasons"]) == ("held", ["details_recently_changed"])
    account = BankAccount.objects.get(public_id=payee["account"]["bankAccountId"])
    assert account.needs_review and "shortly before a large payout" in account.review_reason
    BankAccount.objects.filter(pk=account.pk).update(details_changed_at=OLD, needs_review=False, review_reason="")
    assert pay(api, "1000.00", customerId=payee["customerId"])["status"] == "pending"


def test_velocity_counts_the_last_24_hours_but_not_failed_or_canceled(api, payee, settings):
    settings.COMPLIANCE_VELOCITY_AMOUNT = "1000.00"
    first = pay(api, "600.00", customerId=payee["customerId"])
    assert first["status"] == "pending"
    second = pay(api, "600.00", customerId=payee["customerId"])
    assert (second["status"], second["holdReasons"]) == ("held", ["velocity_exceeded"])
    api.post(f"/payouts/{first['payoutId']}/cancel")
    api.post(f"/payouts/{second['payoutId']}/cancel")
    assert pay(api, "1000.00", customerId=payee["customerId"])["status"] == "pending"
    a_day_ago = timedelta(hours=25)  # the customer's payouts, and their hourly totals, moved back a day
    Payout.objects.filter(customer_public_id=payee["customerId"]).update(created_at=F("created_at") - a_day_ago)
    VelocityHour.objects.filter(customer_public_id=payee["customerId"]).update(hour=F("hour") - a_day_ago)
    assert pay(api, "900.00", customerId=payee["customerId"])["status"] == "pending"
    by_id = pay(api, "200.00", customerId=payee["customerId"], bankAccountId=payee["account"]["bankAccountId"])
    assert by_id["holdReasons"] == ["velocity_exceeded"]


def test_a_one_off_gets_the_amount_rule_and_never_the_customers(api, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    settings.COMPLIANCE_UNVERIFIED_HOLD_AMOUNT = "1.00"
    settings.COMPLIANCE_VELOCITY_AMOUNT = "1.00"
    number = make_cbu(account="3333333333333")
    assert pay(api, "999.00", destinationCbu=number)["status"] == "pending"
    assert pay(api, "1000.00", destinationCbu=number)["holdReasons"] == ["amount_over_threshold"]


def test_every_matching_rule_is_listed(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    settings.COMPLIANCE_UNVERIFIED_HOLD_AMOUNT = "1000.00"
    settings.COMPLIANCE_LARGE_PAYOUT_AMOUNT = "1000.00"
    settings.COMPLIANCE_VELOCITY_AMOUNT = "1000.00"
    body = pay(api, "5000.00", customerId=payee["customerId"])
    assert body["holdReasons"] == [
        "amount_over_threshold",
        "customer_unverified",
        "details_recently_changed",
        "velocity_exceeded",
    ]


# What the merchant sees and can do.


def test_the_list_filters_held_payouts(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    pay(api, "10.00", customerId=payee["customerId"])
    held = pay(api, "2000.00", customerId=payee["customerId"])
    response = api.get("/payouts", {"status": "held"})
    assert response.status_code == 200
    assert response.json() == {"data": [held], "hasMore": False}


def test_the_merchant_cancels_a_held_payout(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    held = pay(api, "2000.00", customerId=payee["customerId"])
    response = api.post(f"/payouts/{held['payoutId']}/cancel")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["holdReasons"]) == ("canceled", ["amount_over_threshold"])
    (canceled,) = event_data(api, "payout.canceled")
    assert canceled == {"object": response.json(), "previousAttributes": {"status": "held"}}
    again = api.post(f"/payouts/{held['payoutId']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "payout_not_cancelable"


# Decisions, the worker, events.


@pytest.mark.django_db(transaction=True)
def test_the_worker_never_claims_a_held_payout_and_pays_it_once_approved(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    held = pay(api, "2000.00", customerId=payee["customerId"])
    small = pay(api, "10.00", customerId=payee["customerId"])
    run_worker()
    assert api.get(f"/payouts/{small['payoutId']}").json()["status"] == "paid"
    assert api.get(f"/payouts/{held['payoutId']}").json()["status"] == "held"
    assert not SandboxTransfer.objects.filter(payout_public_id=held["payoutId"]).exists()

    payout_approve(payout=payout_row(held), staff=analyst("ana"), reason="Known supplier, invoice checked")
    assert api.get(f"/payouts/{held['payoutId']}").json()["status"] == "pending"
    run_worker()
    assert api.get(f"/payouts/{held['payoutId']}").json()["status"] == "paid"
    transitions = list(
        PayoutEvent.objects.filter(payout__public_id=held["payoutId"])
        .order_by("id")
        .values_list("from_status", "to_status", "reason")
    )
    assert transitions == [
        ("held", "pending", "approved by staff:ana"),
        ("pending", "processing", "claimed by a worker"),
        ("processing", "paid", "settled by the rail"),
    ]


def test_a_flag_raised_after_creation_holds_the_payout_at_the_claim_until_an_analyst_approves(
    api, payee, create_customer
):
    body = pay(api, customerId=payee["customerId"])
    one_off = pay(api, destinationCbu=DOC_ACCOUNT_NUMBER)
    assert (body["status"], one_off["status"]) == ("pending", "pending")
    other = create_customer(name="Shares the number")
    api.post(f"/customers/{other['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)  # flags both accounts

    run_worker()
    for payout in (body, one_off):
        shown = api.get(f"/payouts/{payout['payoutId']}").json()
        assert (shown["status"], shown["holdReasons"]) == ("held", ["account_needs_review"])
        assert not SandboxTransfer.objects.filter(payout_public_id=payout["payoutId"]).exists()
    held_events = [e for e in event_data(api, "payout.held") if e["object"]["payoutId"] == body["payoutId"]]
    assert [e["previousAttributes"] for e in held_events] == [{"status": "pending", "holdReasons": []}]

    payout_approve(payout=payout_row(body), staff=analyst("ana"), reason="Same family, checked")
    run_worker()  # approved: not held again for the flag the analyst saw
    assert api.get(f"/payouts/{body['payoutId']}").json()["status"] == "paid"
    assert api.get(f"/payouts/{one_off['payoutId']}").json()["status"] == "held"


def test_creation_and_approval_events_carry_what_changed(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    held = pay(api, "2000.00", customerId=payee["customerId"])
    assert event_data(api, "payout.created") == [{"object": held, "previousAttributes": {}}]
    assert event_data(api, "payout.held") == [{"object": held, "previousAttributes": {}}]
    payout_approve(payout=payout_row(held), staff=analyst("ana"))
    now = api.get(f"/payouts/{held['payoutId']}").json()
    assert now["status"] == "pending"
    assert event_data(api, "payout.approved") == [{"object": now, "previousAttributes": {"status": "held"}}]


def test_a_rejection_needs_a_reason_and_fails_the_payout_without_telling_the_reason(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    held = pay(api, "2000.00", customerId=payee["customerId"])
    ana = analyst("ana")
    with pytest.raises(Exception) as missing:
        payout_reject(payout=payout_row(held), staff=ana, reason="  ")
    assert missing.value.errors[0]["code"] == "parameter_missing"
    payout_reject(payout=payout_row(held), staff=ana, reason="Beneficiary on an internal watch list")
    body = api.get(f"/payouts/{held['payoutId']}").json()
    assert (body["status"], body["failureCode"], body["failureMessage"]) == (
        "failed",
        "compliance_rejected",
        "This payout was rejected by compliance review.",
    )
    assert "watch list" not in str(body)
    assert event_data(api, "payout.rejected") == [
        {"object": body, "previousAttributes": {"status": "held", "failureCode": None, "failureMessage": None}}
    ]
    assert event_data(api, "payout.failed") == []
    trail = [(e.pgh_label, e.pgh_context) for e in payout_row(held).audit_events.order_by("pgh_id")]
    assert trail[-1][0] == "update"
    assert (trail[-1][1]["actor"], trail[-1][1]["decision"], trail[-1][1]["reason"]) == (
        "staff:ana",
        "reject",
        "Beneficiary on an internal watch list",
    )
    with pytest.raises(PayoutNotHeld):
        payout_approve(payout=payout_row(held), staff=ana)


def test_four_eyes_needs_two_different_analysts(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    settings.COMPLIANCE_FOUR_EYES_AMOUNT = "5000.00"
    held = pay(api, "5000.00", customerId=payee["customerId"])
    ana, bruno = analyst("ana"), analyst("bruno")
    payout_approve(payout=payout_row(held), staff=ana, reason="first look")
    assert api.get(f"/payouts/{held['payoutId']}").json()["status"] == "held"
    assert event_data(api, "payout.approved") == []
    with pytest.raises(SecondApprovalNeeded) as same:
        payout_approve(payout=payout_row(held), staff=ana)
    assert "second, different analyst" in str(same.value)
    payout_approve(payout=payout_row(held), staff=bruno, reason="second look")
    assert api.get(f"/payouts/{held['payoutId']}").json()["status"] == "pending"
    approvals = PayoutApproval.objects.filter(payout__public_id=held["payoutId"]).order_by("id")
    assert list(approvals.values_list("staff__username", flat=True)) == ["ana", "bruno"]
    labels = [(e.label, e.actor) for e in history((payout_row(held).audit_events.all(), "payout"))]
    assert ("first approval", "staff:ana") in labels
    assert ("update", "staff:bruno") in labels


def test_staff_without_the_analyst_role_cannot_decide(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    held = pay(api, "2000.00", customerId=payee["customerId"])
    clerk = get_user_model().objects.create_user("clerk", password="pw-long-enough-123", is_staff=True)
    with pytest.raises(NotPermittedToDecide):
        payout_approve(payout=payout_row(held), staff=clerk)
    assert api.get(f"/payouts/{held['payoutId']}").json()["status"] == "held"


def test_rejecting_the_customer_fails_its_held_payouts_too(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    held = pay(api, "2000.00", customerId=payee["customerId"])
    customer = Customer.objects.get(public_id=payee["customerId"])
    customer_verification_set(customer=customer, status="rejected", reviewer=None, reason="Sanctions list match")
    body = api.get(f"/payouts/{held['payoutId']}").json()
    assert (body["status"], body["failureCode"]) == ("failed", "customer_rejected")
    (failed,) = event_data(api, "payout.failed")
    assert failed["previousAttributes"] == {"status": "held", "failureCode": None, "failureMessage": None}


def test_disabling_the_account_fails_its_held_payouts_too(api, payee, settings):
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    held = pay(api, "2000.00", customerId=payee["customerId"])
    api.delete(f"/customers/{payee['customerId']}/bank-accounts/{payee['account']['bankAccountId']}")
    body = api.get(f"/payouts/{held['payoutId']}").json()
    assert (body["status"], body["failureCode"]) == ("failed", "account_disabled")


@pytest.mark.django_db(transaction=True)
def test_held_approved_and_rejected_events_reach_the_webhook(api, payee, settings, receiver):
    from standardwebhooks import Webhook

    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    hook = api.post(
        "/webhook-endpoints",
        {"url": receiver.url, "enabledEvents": ["payout.held", "payout.approved", "payout.rejected"]},
    ).json()
    first = pay(api, "2000.00", customerId=payee["customerId"])
    second = pay(api, "3000.00", customerId=payee["customerId"])
    ana = analyst("ana")
    payout_approve(payout=payout_row(first), staff=ana)
    payout_reject(payout=payout_row(second), staff=ana, reason="Does not match the merchant's business")
    run_tasks()
    delivered = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.requests]
    seen = sorted((event["type"], event["data"]["object"]["payoutId"]) for event in delivered)
    assert seen == sorted(
        [
            ("payout.held", first["payoutId"]),
            ("payout.held", second["payoutId"]),
            ("payout.approved", first["payoutId"]),
            ("payout.rejected", second["payoutId"]),
        ]
    )
    rejected = next(event for event in delivered if event["type"] == "payout.rejected")
    assert rejected["data"]["object"]["failureCode"] == "compliance_rejected"
    assert rejected["data"]["previousAttributes"]["status"] == "held"


@pytest.mark.parametrize(
    ("function", "module"), [("payouts_hold_facts", "payouts.holds"), ("payouts_default_destination", "payouts.sql")]
)
def test_the_database_runs_the_payout_paths_functions_as_their_modules_write_them(db, function, module):
    from importlib import import_module

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [function])
        (source,) = cursor.fetchone()
    assert source.strip() and source in import_module(module).INSTALL
