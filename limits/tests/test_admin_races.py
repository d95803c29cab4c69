"""Two compliance admins on the same merchant's limits at the same moment, with real threads on PostgreSQL,
through the back-office: never a 500, and the outcome of running them one after the other.

Each test pauses the first request inside its transaction (testsupport.races), right after its write, then
sends the rival's; the first goes on once the rival waits for a lock (or has finished: nothing stopped it).
What serialises them is limits.services: the merchant's advisory gate and the limits' row lock
(_locked_limits), the change's row lock (_locked_pending)."""

from decimal import Decimal

import pytest

from compliance.roles import ADMIN
from limits.models import PayoutLimit, PayoutLimitChange
from limits.services import limits_set
from limits.tests.conftest import staff_user
from testsupport.races import outcomes, posting_as, race

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "/admin/limits/payoutlimit/add/"
CHANGES = "/admin/limits/payoutlimitchange/"
PROPOSED = 'INSERT INTO "limits_payoutlimitchange"'
CREATED = 'INSERT INTO "limits_payoutlimit"'
DECIDED = 'UPDATE "limits_payoutlimitchange"'


def form(merchant=None, *, single="", daily="", customer="", reason="") -> dict:
    data = {"single_max": single, "daily_max": daily, "customer_daily_max": customer, "reason": reason}
    return data if merchant is None else {"merchant": merchant.pk, **data}


def change_url(limits: PayoutLimit) -> str:
    return f"/admin/limits/payoutlimit/{limits.pk}/change/"


def decide(action: str, change: PayoutLimitChange, reason: str = "checked the contract") -> dict:
    return {"action": action, "_selected_action": [change.pk], "apply": "1", "reason": reason}


@pytest.fixture
def admins(db):
    return staff_user("ana", ADMIN), staff_user("bruno", ADMIN), staff_user("carla", ADMIN)


def changes(merchant) -> list[tuple[str, dict, str]]:
    return list(
        PayoutLimitChange.objects.filter(merchant=merchant)
        .order_by("id")
        .values_list("proposed_by__username", "proposed", "status")
    )


def daily_of(merchant) -> Decimal | None:
    return PayoutLimit.objects.get(merchant=merchant, livemode=False).daily_max


def test_two_admins_proposing_a_raise_at_once_leave_one_pending_change(merchant, admins):
    ana, bruno, _ = admins
    limits = limits_set(merchant=merchant.merchant, livemode=False, values={"daily_max": Decimal("100")}, by=ana).limits
    results, errors = race(
        posting_as(ana, change_url(limits), form(daily="500.00")),
        posting_as(bruno, change_url(limits), form(daily="800.00")),
        pause_after=PROPOSED,
    )
    assert errors == []
    shown = outcomes(results)
    assert [(name, status) for name, status, _ in shown] == [("ana", 302), ("bruno", 302)]
    ana_change, bruno_change = PayoutLimitChange.objects.filter(merchant=merchant.merchant).order_by("id")
    assert (
        f"Waiting for a second compliance admin's approval (change {ana_change.pk}): daily: 500.00 ARS." in shown[0][2]
    )
    assert (
        f"Waiting for a second compliance admin's approval (change {bruno_change.pk}): daily: 800.00 ARS."
        in (shown[1][2])
    )
    assert changes(merchant.merchant) == [
        ("ana", {"daily": "500.00"}, "superseded"),  # the later proposal supersedes the earlier
        ("bruno", {"daily": "800.00"}, "pending"),
    ]
    assert daily_of(merchant.merchant) == Decimal("100.00")


def test_two_admins_setting_a_merchants_first_limits_at_once_make_one_row(merchant, admins):
    ana, bruno, _ = admins
    results, errors = race(
        posting_as(ana, ADD, form(merchant.merchant, daily="100.00")),
        posting_as(bruno, ADD, form(merchant.merchant, single="50.00")),
        pause_after=CREATED,
    )
    assert errors == []
    (ana_shown, bruno_shown) = outcomes(results)
    assert ana_shown[:2] == ("ana", 302) and "In force now: per day: 100.00 ARS." in ana_shown[2]
    assert bruno_shown[:2] == ("bruno", 302)
    assert "In force now: single payout: 50.00 ARS." in bruno_shown[2]
    # Bruno's form said "no daily limit" after Ana had set one: a removal, which waits for a second admin.
    assert any("Waiting for a second compliance admin" in m and "daily: no limit" in m for m in bruno_shown[2])
    row = PayoutLimit.objects.get(merchant=merchant.merchant)
    assert (row.single_max, row.daily_max, row.customer_daily_max) == (Decimal("50.00"), Decimal("100.00"), None)
    assert changes(merchant.merchant) == [("bruno", {"daily": None}, "pending")]


@pytest.fixture
def proposed(merchant, admins) -> PayoutLimitChange:
    ana = admins[0]
    limits_set(merchant=merchant.merchant, livemode=False, values={"daily_max": Decimal("100")}, by=ana)
    return limits_set(merchant=merchant.merchant, livemode=False, values={"daily_max": Decimal("500")}, by=ana).pending


def test_a_refusal_racing_an_approval_finds_the_change_approved(merchant, admins, proposed):
    ana, bruno, _ = admins
    results, errors = race(
        posting_as(bruno, CHANGES, decide("approve_selected", proposed)),
        posting_as(ana, CHANGES, decide("refuse_selected", proposed, "withdrawn")),  # its proposer may refuse
        pause_after=DECIDED,
    )
    assert errors == []
    assert outcomes(results) == [
        ("ana", 302, [f"Change {proposed.pk}: This change is approved, no longer pending."]),
        ("bruno", 302, ["1 change(s) approved."]),
    ]
    assert changes(merchant.merchant) == [("ana", {"daily": "500.00"}, "approved")]
    assert daily_of(merchant.merchant) == Decimal("500.00")


def test_an_approval_racing_a_refusal_finds_the_change_refused(merchant, admins, proposed):
    ana, bruno, _ = admins
    results, errors = race(
        posting_as(ana, CHANGES, decide("refuse_selected", proposed, "withdrawn")),
        posting_as(bruno, CHANGES, decide("approve_selected", proposed)),
        pause_after=DECIDED,
    )
    assert errors == []
    assert outcomes(results) == [
        ("ana", 302, ["1 change(s) refused."]),
        ("bruno", 302, [f"Change {proposed.pk}: This change is refused, no longer pending."]),
    ]
    assert changes(merchant.merchant) == [("ana", {"daily": "500.00"}, "refused")]
    assert daily_of(merchant.merchant) == Decimal("100.00")


def test_a_proposal_racing_an_approval_is_weighed_against_the_approved_limits(merchant, admins, proposed):
    _, bruno, carla = admins
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    results, errors = race(
        posting_as(bruno, CHANGES, decide("approve_selected", proposed)),
        posting_as(carla, change_url(limits), form(daily="300.00")),
        pause_after=DECIDED,
    )
    assert errors == []
    (bruno_shown, carla_shown) = outcomes(results)
    assert bruno_shown == ("bruno", 302, ["1 change(s) approved."])
    # 300 is a raise over the 100 Carla's form was read against, but under the 500 approved meanwhile: a
    # lowering, in force at once.
    assert carla_shown[:2] == ("carla", 302) and "In force now: per day: 300.00 ARS." in carla_shown[2]
    assert changes(merchant.merchant) == [("ana", {"daily": "500.00"}, "approved")]
    assert daily_of(merchant.merchant) == Decimal("300.00")


def test_an_approval_racing_a_new_proposal_finds_the_change_superseded(merchant, admins, proposed):
    _, bruno, carla = admins
    limits = PayoutLimit.objects.get(merchant=merchant.merchant)
    results, errors = race(
        posting_as(carla, change_url(limits), form(daily="900.00")),
        posting_as(bruno, CHANGES, decide("approve_selected", proposed)),
        pause_after=PROPOSED,
    )
    assert errors == []
    (bruno_shown, carla_shown) = outcomes(results)
    assert bruno_shown == ("bruno", 302, [f"Change {proposed.pk}: This change is superseded, no longer pending."])
    assert carla_shown[:2] == ("carla", 302)
    assert changes(merchant.merchant) == [
        ("ana", {"daily": "500.00"}, "superseded"),
        ("carla", {"daily": "900.00"}, "pending"),
    ]
    assert daily_of(merchant.merchant) == Decimal("100.00")


def test_two_proposals_through_the_service_at_once_leave_one_pending_change(merchant, admins):
    ana, bruno, _ = admins
    limits_set(merchant=merchant.merchant, livemode=False, values={"daily_max": Decimal("100")}, by=ana)
    results, errors = race(
        lambda: limits_set(merchant=merchant.merchant, livemode=False, values={"daily_max": Decimal("500")}, by=ana),
        lambda: limits_set(merchant=merchant.merchant, livemode=False, values={"daily_max": Decimal("800")}, by=bruno),
        pause_after=PROPOSED,
    )
    assert errors == []
    assert sorted(result.pending.proposed["daily"] for result in results) == ["500.00", "800.00"]
    assert changes(merchant.merchant) == [
        ("ana", {"daily": "500.00"}, "superseded"),
        ("bruno", {"daily": "800.00"}, "pending"),
    ]
