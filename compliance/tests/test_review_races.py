"""Two analysts on the same review-queue item at the same moment, with real threads on PostgreSQL, through the
back-office's item page: never a 500, and no assignment left on a decided item.

Each test pauses the first request inside its transaction (testsupport.races), right after its write, then
sends the rival's; the first goes on once the rival waits for a lock (or has finished: nothing stopped it)."""

import pytest

from compliance.models import Assignment
from compliance.roles import ANALYST
from compliance.services import assignment_take
from payouts.models import Payout
from testsupport.compliance import quiet_hold_rules, staff_member
from testsupport.races import outcomes, posting_as, race

pytestmark = pytest.mark.django_db(transaction=True)

TAKEN = 'INSERT INTO "compliance_assignment"'
DECIDED = 'INSERT INTO "payouts_payoutevent"'  # in the decision's transaction, after the payout's update


@pytest.fixture(autouse=True)
def thresholds(settings):
    quiet_hold_rules(settings, COMPLIANCE_HOLD_AMOUNT="1000.00", COMPLIANCE_FOUR_EYES_AMOUNT="5000.00")


def analyst(username: str):
    return staff_member(username, ANALYST)


@pytest.fixture
def held(api, payee) -> Payout:
    response = api.post("/payouts", {"amount": "2000.00", "currency": "ARS", "customerId": payee["customerId"]})
    assert response.json()["status"] == "held", response.content
    return Payout.objects.get(public_id=response.json()["payoutId"])


def url(payout: Payout) -> str:
    return f"/admin/compliance/assignment/payout/{payout.pk}/"


def test_two_analysts_taking_an_item_at_once_leave_it_with_the_later(held):
    ana, bruno = analyst("ana"), analyst("bruno")
    results, errors = race(
        posting_as(ana, url(held), {"action": "take"}),
        posting_as(bruno, url(held), {"action": "take"}),
        pause_after=TAKEN,
    )
    assert errors == []
    assert outcomes(results) == [("ana", 302, ["Assigned to you."]), ("bruno", 302, ["Assigned to you."])]
    assert list(Assignment.objects.values_list("kind", "object_id", "assignee__username")) == [
        ("payout", held.pk, "bruno")
    ]


def test_a_decision_racing_a_take_releases_the_item(held):
    ana, bruno = analyst("ana"), analyst("bruno")
    results, errors = race(
        posting_as(ana, url(held), {"action": "take"}),
        posting_as(bruno, url(held), {"action": "reject", "reason": "Mule account"}),
        pause_after=TAKEN,
    )
    assert errors == []
    assert outcomes(results) == [("ana", 302, ["Assigned to you."]), ("bruno", 302, ["Payout rejected."])]
    held.refresh_from_db()
    assert held.status == Payout.Status.FAILED
    assert not Assignment.objects.exists()  # the decision waited for the take, then released it


def test_a_take_racing_a_decision_finds_the_item_decided(held):
    ana, bruno = analyst("ana"), analyst("bruno")
    results, errors = race(
        posting_as(bruno, url(held), {"action": "reject", "reason": "Mule account"}),
        posting_as(ana, url(held), {"action": "take"}),
        pause_after=DECIDED,
    )
    assert errors == []
    assert outcomes(results) == [
        ("ana", 302, ["This item is no longer waiting for review: it was decided."]),
        ("bruno", 302, ["Payout rejected."]),
    ]
    assert not Assignment.objects.exists()


def test_taking_an_item_decided_earlier_says_so(held):
    ana, bruno = analyst("ana"), analyst("bruno")
    assert outcomes([posting_as(bruno, url(held), {"action": "reject", "reason": "Mule account"})()]) == [
        ("bruno", 302, ["Payout rejected."])
    ]
    assert outcomes([posting_as(ana, url(held), {"action": "take"})()]) == [
        ("ana", 302, ["This item is no longer waiting for review: it was decided."])
    ]
    assert not Assignment.objects.exists()


def test_two_takes_through_the_service_at_once_leave_the_item_with_the_later(held):
    ana, bruno = analyst("ana"), analyst("bruno")
    results, errors = race(
        lambda: assignment_take(kind="payout", object_id=held.pk, staff=ana),
        lambda: assignment_take(kind="payout", object_id=held.pk, staff=bruno),
        pause_after=TAKEN,
    )
    assert errors == []
    assert len(results) == 2
    assert list(Assignment.objects.values_list("assignee__username", flat=True)) == ["bruno"]
