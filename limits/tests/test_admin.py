"""The back-office: compliance admins set limits; a raise or removal needs a second, different admin."""

from decimal import Decimal

import pytest
from django.test import Client

from limits.models import PayoutLimit, PayoutLimitChange

ADD = "/admin/limits/payoutlimit/add/"
CHANGES = "/admin/limits/payoutlimitchange/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(merchant, *, livemode=False, single="", daily="", customer="", reason="") -> dict:
    data = {
        "merchant": merchant.pk,
        "single_max": single,
        "daily_max": daily,
        "customer_daily_max": customer,
        "reason": reason,
    }
    if livemode:
        data["livemode"] = "on"
    return data


def change_url(limits: PayoutLimit) -> str:
    return f"/admin/limits/payoutlimit/{limits.pk}/change/"


def limits_of(merchant, livemode=False) -> tuple:
    row = PayoutLimit.objects.get(merchant=merchant, livemode=livemode)
    return row.single_max, row.daily_max, row.customer_daily_max


def trail(obj) -> list[tuple[str, str]]:
    return [(e.pgh_label, e.pgh_context["actor"]) for e in obj.audit_events.order_by("pgh_id")]


def decide(client: Client, action: str, change: PayoutLimitChange, reason: str = "checked the contract"):
    data = {"action": action, "_selected_action": [change.pk], "apply": "1", "reason": reason}
    return client.post(CHANGES, data, follow=True)


@pytest.fixture
def ana(admin_ana) -> Client:
    return logged_in(admin_ana)


@pytest.fixture
def bruno(admin_bruno) -> Client:
    return logged_in(admin_bruno)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_setting_limits_where_there_were_none_applies_at_once(ana, merchant):
    assert ana.get(ADD).status_code == 200
    response = ana.post(ADD, form(merchant.merchant, daily="1000.00", reason="onboarding"), follow=True)
    assert response.status_code == 200
    assert limits_of(merchant.merchant) == (None, Decimal("1000.00"), None)
    assert "In force now: per day: 1000.00 ARS." in messages_of(response)
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    assert ("limits_lowered", "staff:ana") in trail(limits)
    assert not PayoutLimitChange.objects.exists()
    page = ana.get(change_url(limits))
    assert page.status_code == 200
    assert "staff:ana" in page.content.decode()  # the page's history names who set it


def test_lowering_applies_at_once_and_raising_waits_for_a_second_admin(ana, bruno, merchant, admin_ana, admin_bruno):
    ana.post(ADD, form(merchant.merchant, single="500.00", daily="1000.00"))
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)

    # Lower the day's limit and raise the single one in one save: the first applies, the second waits.
    response = ana.post(change_url(limits), form(merchant.merchant, single="900.00", daily="800.00"), follow=True)
    assert limits_of(merchant.merchant) == (Decimal("500.00"), Decimal("800.00"), None)
    change = PayoutLimitChange.objects.get()
    assert change.status == "pending"
    assert change.proposed == {"single": "900.00"}
    assert change.proposed_by == admin_ana
    assert any("Waiting for a second compliance admin" in m for m in messages_of(response))

    # The proposer cannot approve it.
    response = decide(ana, "approve_selected", change)
    assert any("its proposer cannot approve it" in m for m in messages_of(response))
    change.refresh_from_db()
    assert change.status == "pending"
    assert limits_of(merchant.merchant)[0] == Decimal("500.00")

    # A second admin can.
    response = decide(bruno, "approve_selected", change)
    assert "1 change(s) approved." in messages_of(response)
    change.refresh_from_db()
    assert (change.status, change.decided_by) == ("approved", admin_bruno)
    assert limits_of(merchant.merchant) == (Decimal("900.00"), Decimal("800.00"), None)
    assert ("limit_change_proposed", "staff:ana") in trail(change)
    assert ("limit_change_approved", "staff:bruno") in trail(change)


def test_removing_a_limit_waits_and_a_refusal_keeps_it(ana, bruno, merchant, admin_bruno):
    ana.post(ADD, form(merchant.merchant, daily="1000.00"))
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    ana.post(change_url(limits), form(merchant.merchant, daily=""))
    change = PayoutLimitChange.objects.get()
    assert change.proposed == {"daily": None}
    assert limits_of(merchant.merchant)[1] == Decimal("1000.00")

    decide(bruno, "refuse_selected", change)
    change.refresh_from_db()
    assert (change.status, change.decided_by) == ("refused", admin_bruno)
    assert limits_of(merchant.merchant)[1] == Decimal("1000.00")
    assert ("limit_change_refused", "staff:bruno") in trail(change)
    # Decided once: a second decision is refused.
    response = decide(bruno, "approve_selected", change)
    assert any("no longer pending" in m for m in messages_of(response))
    assert limits_of(merchant.merchant)[1] == Decimal("1000.00")


def test_a_new_proposal_supersedes_the_pending_one(ana, bruno, merchant):
    ana.post(ADD, form(merchant.merchant, daily="1000.00"))
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    ana.post(change_url(limits), form(merchant.merchant, daily="5000.00"))
    bruno.post(change_url(limits), form(merchant.merchant, daily="2000.00"))
    first, second = PayoutLimitChange.objects.order_by("pk")
    assert (first.status, second.status) == ("superseded", "pending")
    assert second.proposed == {"daily": "2000.00"}
    decide(ana, "approve_selected", second)  # ana did not propose this one
    assert limits_of(merchant.merchant)[1] == Decimal("2000.00")


def test_an_approved_removal_stops_counting_and_a_new_limit_counts_the_day_again(ana, bruno, merchant, api, payee):
    ana.post(ADD, form(merchant.merchant, daily="1000.00"))
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    pay = {"amount": "600.00", "currency": "ARS", "customerId": payee["customerId"]}
    assert api.post("/payouts", pay).status_code == 201
    ana.post(change_url(limits), form(merchant.merchant, daily=""))
    decide(bruno, "approve_selected", PayoutLimitChange.objects.get())
    assert api.post("/payouts", pay).status_code == 201  # no limit now
    ana.post(change_url(limits), form(merchant.merchant, daily="1500.00"))  # from none: at once
    refused = api.post("/payouts", {**pay, "amount": "300.01"})
    assert refused.json()["error"]["limit"]["used"] == "1200.00"


def test_an_analyst_sees_limits_but_cannot_set_or_approve(analyst, ana, merchant):
    ana.post(ADD, form(merchant.merchant, daily="1000.00"))
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    ana.post(change_url(limits), form(merchant.merchant, daily="2000.00"))
    change = PayoutLimitChange.objects.get()
    carla = logged_in(analyst)
    assert carla.get("/admin/limits/payoutlimit/").status_code == 200
    assert carla.get(ADD).status_code == 403
    assert carla.post(change_url(limits), form(merchant.merchant, daily="1.00")).status_code == 403
    page = carla.get(CHANGES)
    assert page.status_code == 200
    assert b"approve_selected" not in page.content
    decide(carla, "approve_selected", change)
    change.refresh_from_db()
    assert change.status == "pending"
    assert limits_of(merchant.merchant)[1] == Decimal("1000.00")


def test_the_change_list_shows_proposal_and_limits_in_force(ana, bruno, merchant):
    ana.post(ADD, form(merchant.merchant, daily="1000.00"))
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    ana.post(change_url(limits), form(merchant.merchant, daily="3000.00"))
    page = bruno.get(CHANGES).content.decode()
    assert "daily: 3000.00 ARS" in page
    assert "per day: 1000.00 ARS" in page
    change = PayoutLimitChange.objects.get()
    detail = bruno.get(f"{CHANGES}{change.pk}/change/")
    assert detail.status_code == 200
    assert b"limit_change_proposed" in detail.content or b"staff:ana" in detail.content


def test_deciding_asks_for_the_reason_first_and_a_refusal_needs_one(ana, bruno, merchant, admin_bruno):
    ana.post(ADD, form(merchant.merchant, daily="1000.00"))
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    ana.post(change_url(limits), form(merchant.merchant, daily="4000.00", reason="seasonal volume"))
    change = PayoutLimitChange.objects.get()
    page = bruno.post(CHANGES, {"action": "refuse_selected", "_selected_action": [change.pk]})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Refuse these 1 limit change(s)?" in body
    assert "daily: 4000.00 ARS" in body and "per day: 1000.00 ARS" in body
    decide(bruno, "refuse_selected", change, reason="")  # no reason: the page again, nothing decided
    change.refresh_from_db()
    assert change.status == "pending"
    decide(bruno, "refuse_selected", change, reason="volume not in the contract")
    change.refresh_from_db()
    assert (change.status, change.decided_by) == ("refused", admin_bruno)
    assert "volume not in the contract" in change.reason
    event = change.audit_events.filter(pgh_label="limit_change_refused").get()
    assert event.pgh_context["actor"] == "staff:bruno"
    assert event.pgh_context["reason"] == "volume not in the contract"
