"""Decisions on a held payout racing each other, with real threads on PostgreSQL: exactly one outcome.

Each test pauses the first decision after it has read the payout (and its approvals), inside its
transaction, then starts the rival: the rival must wait for the first decision's row lock, and then find
its outcome. Without the lock (payouts.services._locked_held), both decide on the same held payout."""

import pytest
from django.contrib.auth.models import Group, Permission

from compliance.roles import ANALYST, sync_roles
from payouts import holds, services
from payouts.models import Payout, PayoutApproval, PayoutEvent
from payouts.services import PayoutNotHeld, payout_approve, payout_reject
from testsupport.api import ApiClient, make_merchant
from testsupport.compliance import quiet_hold_rules, staff_member
from testsupport.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def analyst(username: str):
    return staff_member(username, ANALYST)


@pytest.fixture
def held(settings) -> tuple[ApiClient, Payout]:
    sync_roles(Group, Permission)
    settings.COMPLIANCE_HOLD_AMOUNT = "1000.00"
    settings.COMPLIANCE_FOUR_EYES_AMOUNT = "5000.00"
    api = ApiClient(make_merchant("Race").test)
    customer = api.post("/customers", {"type": "individual", "name": "Racer", "country": "AR"}).json()
    from customers.tests.factories import DOC_BANK_ACCOUNT

    api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    body = api.post("/payouts", {"amount": "6000.00", "currency": "ARS", "customerId": customer["customerId"]})
    assert body.json()["status"] == "held", body.content
    return api, Payout.objects.get(public_id=body.json()["payoutId"])


FOUR_EYES_READ = (holds, "needs_four_eyes")  # called once the first decision has read the payout under its lock


def transitions(payout: Payout) -> list[tuple[str, str]]:
    return list(PayoutEvent.objects.filter(payout=payout).order_by("id").values_list("from_status", "to_status"))


def test_two_analysts_giving_the_four_eyes_at_once_release_the_payout_once(held):
    api, payout = held
    ana, bruno = analyst("ana"), analyst("bruno")
    _, errors = race(
        lambda: payout_approve(payout=payout, staff=ana),
        lambda: payout_approve(payout=payout, staff=bruno),
        pause_in=FOUR_EYES_READ,
    )
    assert errors == []
    assert PayoutApproval.objects.filter(payout=payout).count() == 2
    assert api.get(f"/payouts/{payout.public_id}").json()["status"] == "pending"
    assert transitions(payout) == [("held", "pending")]


def test_an_approval_racing_the_merchants_cancel_finds_it_canceled(held, settings):
    settings.COMPLIANCE_FOUR_EYES_AMOUNT = "900000.00"  # one approval is enough here
    api, payout = held
    ana = analyst("ana")
    results, errors = race(
        lambda: api.post(f"/payouts/{payout.public_id}/cancel"),
        lambda: payout_approve(payout=payout, staff=ana),
        pause_in=(services, "check_transition"),
    )
    assert [type(error) for error in errors] == [PayoutNotHeld]
    assert "no longer held: it is canceled" in str(errors[0])
    (response,) = results
    assert (response.status_code, response.json()["status"]) == (200, "canceled")
    assert api.get(f"/payouts/{payout.public_id}").json()["status"] == "canceled"
    assert transitions(payout) == [("held", "canceled")]
    assert not PayoutApproval.objects.filter(payout=payout).exists()


def test_a_rejection_racing_an_approval_finds_it_approved(held, settings):
    settings.COMPLIANCE_FOUR_EYES_AMOUNT = "900000.00"
    api, payout = held
    ana, bruno = analyst("ana"), analyst("bruno")
    _, errors = race(
        lambda: payout_approve(payout=payout, staff=ana),
        lambda: payout_reject(payout=payout, staff=bruno, reason="Looks wrong"),
        pause_in=(services, "check_transition"),
    )
    assert [type(error) for error in errors] == [PayoutNotHeld]
    assert "no longer held: it is pending" in str(errors[0])
    assert api.get(f"/payouts/{payout.public_id}").json()["status"] == "pending"
    assert transitions(payout) == [("held", "pending")]
    events = [e["type"] for e in api.get("/events", {"limit": 100}).json()["data"]]
    assert "payout.approved" in events and "payout.rejected" not in events


def test_parallel_payouts_escaping_the_velocity_hold_at_creation_are_held_at_the_claim(settings):
    """Each parallel request reads the customer's last 24 hours before the others are written, so all pass
    the velocity rule at creation; the worker's claim counts them in creation order and holds the excess."""
    from decimal import Decimal

    from django.core.management import call_command

    from customers.tests.factories import DOC_BANK_ACCOUNT
    from testsupport.api import run_at_once

    quiet_hold_rules(settings, COMPLIANCE_VELOCITY_AMOUNT="250.00")
    keys = make_merchant("Velocity")
    api = ApiClient(keys.test)
    customer = api.post("/customers", {"type": "individual", "name": "V", "country": "AR"}).json()["customerId"]
    assert api.post(f"/customers/{customer}/bank-accounts", DOC_BANK_ACCOUNT).status_code == 201
    body = {"amount": "100.00", "currency": "ARS", "customerId": customer}

    run_at_once(8, lambda: ApiClient(keys.test).post("/payouts", body).status_code)
    call_command("process_payouts", "--once")

    payouts = list(Payout.objects.filter(customer_public_id=customer).order_by("id").values_list("status", "amount"))
    assert len(payouts) == 8
    assert [status for status, _ in payouts] == ["paid", "paid"] + ["held"] * 6  # 100 + 100 ≤ 250 < 300
    assert sum(amount for status, amount in payouts if status == "paid") == Decimal("200.00")
    assert all(
        "velocity_exceeded" in reasons
        for reasons in Payout.objects.filter(customer_public_id=customer, status="held").values_list(
            "hold_reasons", flat=True
        )
    )
