"""The status machine, the sandbox rail and the worker: settle once, recover by asking, never pay twice."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from customers.tests.factories import make_cbu
from payouts.models import Payout, PayoutEvent, SandboxTransfer
from payouts.rails import LIVE_RAILS, SANDBOX_FAILURES, Instruction, NoLiveRail, SandboxRail, rail_for
from payouts.services import IllegalTransition, check_transition, payouts_claim, payouts_settle
from payouts.worker import PayoutWorker
from testsupport.api import make_merchant, run_at_once
from testsupport.factories import make_pending_payouts

NOW = timedelta(0)


def create(api, number: str | None = None, amount: str = "100.00") -> dict:
    body = {"amount": amount, "currency": "ARS", "destinationCbu": number or make_cbu()}
    response = api.post("/payouts", body)
    assert response.status_code == 201, response.content
    return response.json()


def run_worker() -> str:
    out = StringIO()
    call_command("process_payouts", "--once", stdout=out)
    return out.getvalue().strip()


class SpyRail(SandboxRail):
    def __init__(self):
        self.sent: list[str] = []

    def send(self, instructions):
        self.sent += [i.payout_id for i in instructions]
        return super().send(instructions)


def test_each_magic_number_fails_with_its_code_and_others_are_paid(api):
    payouts = {code: create(api, number) for number, (code, _) in SANDBOX_FAILURES.items()}
    paid = create(api)
    assert run_worker() == (
        "claimed 6, recovered 0, settled 6; outcomes: account_closed 1, bank_rejected 1, could_not_process 1, "
        "holder_mismatch 1, invalid_account_number 1, paid 1"
    )
    for code, payout in payouts.items():
        body = api.get(f"/payouts/{payout['payoutId']}").json()
        assert (body["status"], body["failureCode"]) == ("failed", code)
        assert body["failureMessage"] == dict(SANDBOX_FAILURES.values())[code]
    assert api.get(f"/payouts/{paid['payoutId']}").json()["status"] == "paid"


def test_the_magic_numbers_are_valid_cbus_and_documented():
    from customers.accounts import parse_account_number

    readme = open("README.md").read()
    for number in SANDBOX_FAILURES:
        assert parse_account_number(number).digits == number
        assert number in readme


def test_live_payouts_are_refused_while_live_mode_is_off(live_api):
    response = live_api.post("/payouts", {"amount": "10.00", "currency": "ARS", "destinationCbu": make_cbu()})
    assert (response.status_code, response.json()) == (
        403,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "live_payouts_disabled",
                "message": "Live payouts are not enabled on this platform yet: no bank rail is configured. "
                "Use a test key.",
                "param": None,
                "errors": [],
            }
        },
    )
    assert not Payout.objects.exists()


def test_live_payouts_wait_for_a_bank_rail_and_never_go_through_the_sandbox(live_api, api, live_payouts_enabled):
    live = create(live_api)
    test = create(api)
    assert run_worker() == "claimed 1, recovered 0, settled 1; outcomes: paid 1"
    assert live_api.get(f"/payouts/{live['payoutId']}").json()["status"] == "pending"
    assert api.get(f"/payouts/{test['payoutId']}").json()["status"] == "paid"
    assert not SandboxTransfer.objects.filter(payout_public_id=live["payoutId"]).exists()
    with pytest.raises(NoLiveRail):
        rail_for(livemode=True)


def test_a_configured_live_rail_pays_live_payouts(live_api, live_payouts_enabled, settings, monkeypatch):
    bank = SpyRail()
    monkeypatch.setitem(LIVE_RAILS, "testbank", lambda: bank)
    settings.PAYOUT_LIVE_RAIL = "testbank"
    live = create(live_api)
    run_worker()
    assert bank.sent == [live["payoutId"]]
    assert live_api.get(f"/payouts/{live['payoutId']}").json()["status"] == "paid"


def test_deploy_check_warns_when_live_payouts_are_on_without_a_rail(settings):
    from payouts.checks import live_payouts_need_a_rail

    assert live_payouts_need_a_rail(None) == []
    settings.PAYOUT_LIVE_ENABLED = True
    assert [warning.id for warning in live_payouts_need_a_rail(None)] == ["payouts.W001"]


def test_the_rail_receives_the_decrypted_number_and_the_exact_amount(api):
    number = make_cbu(account="1234567890123")
    payout = create(api, number, amount="1234.56")
    spy = SpyRail()
    received = []
    original = spy.send

    def capture(instructions):
        received.extend(instructions)
        return original(instructions)

    spy.send = capture
    PayoutWorker(rails=lambda livemode: spy).run_once()
    assert [(i.payout_id, i.amount, i.currency, i.account_number) for i in received] == [
        (payout["payoutId"], Decimal("1234.56"), "ARS", number)
    ]
    assert number not in repr(received[0])


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [("pending", "paid"), ("paid", "pending"), ("failed", "paid"), ("canceled", "pending"), ("paid", "failed")],
)
def test_illegal_transitions_are_errors(from_status, to_status):
    with pytest.raises(IllegalTransition):
        check_transition(from_status, to_status)


def test_a_transition_never_overwrites_a_status_it_did_not_expect(api):
    """Settling a payout that is not processing (here: still pending) changes nothing."""
    payout = create(api)
    pk = Payout.objects.get(public_id=payout["payoutId"]).pk
    from payouts.rails import Outcome

    assert payouts_settle(outcomes={pk: Outcome("paid")}) == 0
    assert api.get(f"/payouts/{payout['payoutId']}").json()["status"] == "pending"
    assert not PayoutEvent.objects.filter(payout_id=pk).exists()


def test_settle_leaves_payouts_that_are_no_longer_processing_alone(api):
    payout = create(api)
    api.post(f"/payouts/{payout['payoutId']}/cancel")
    pk = Payout.objects.get(public_id=payout["payoutId"]).pk
    from payouts.rails import Outcome

    assert payouts_settle(outcomes={pk: Outcome("paid")}) == 0
    assert Payout.objects.get(pk=pk).status == "canceled"


def test_a_payout_claimed_by_a_worker_that_died_before_sending_is_sent_on_recovery(api):
    payout = create(api)
    payouts_claim(limit=10)  # the worker claims it, then dies before sending
    spy = SpyRail()
    PayoutWorker(rails=lambda livemode: spy, stale_after=NOW).run_once()
    assert spy.sent == [payout["payoutId"]]
    assert api.get(f"/payouts/{payout['payoutId']}").json()["status"] == "paid"


def test_a_payout_sent_by_a_worker_that_died_before_recording_is_asked_about_not_resent(api):
    number, _ = next(iter(SANDBOX_FAILURES.items()))
    payout = create(api, number)
    [claimed] = payouts_claim(limit=10).payouts
    SandboxRail().send([Instruction(claimed.public_id, claimed.amount, claimed.currency, number)])  # then dies
    spy = SpyRail()
    stats = PayoutWorker(rails=lambda livemode: spy, stale_after=NOW).run_once()
    assert spy.sent == []  # asked the rail instead
    assert (stats.recovered, stats.settled) == (1, 1)
    body = api.get(f"/payouts/{payout['payoutId']}").json()
    assert (body["status"], body["failureCode"]) == ("failed", "invalid_account_number")
    assert SandboxTransfer.objects.count() == 1


def test_a_recently_claimed_payout_is_not_recovered(api):
    create(api)
    payouts_claim(limit=10)
    stats = PayoutWorker(stale_after=timedelta(minutes=5)).run_once()
    assert (stats.recovered, stats.claimed) == (0, 0)
    assert Payout.objects.get().status == "processing"


def test_every_transition_is_recorded(api):
    payout = create(api)
    run_worker()
    events = PayoutEvent.objects.filter(payout__public_id=payout["payoutId"]).order_by("id")
    assert [(e.from_status, e.to_status, e.reason) for e in events] == [
        ("pending", "processing", "claimed by a worker"),
        ("processing", "paid", "settled by the rail"),
    ]
    assert all(e.created_at for e in events)


@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_1000_payouts_settle_each_exactly_once():
    merchant = make_merchant("Drain")
    make_pending_payouts(merchant.test_key.scope, 1000)
    stats = run_at_once(2, lambda: PayoutWorker(batch_size=50).run_once())
    assert Counter(Payout.objects.values_list("status", flat=True)) == {"paid": 1000}
    assert sum(s.claimed for s in stats) == 1000 and all(s.claimed > 0 for s in stats)  # both took a share
    transitions = Counter(PayoutEvent.objects.values_list("payout_id", "to_status"))
    assert set(transitions.values()) == {1} and len(transitions) == 2000  # processing once, paid once
    assert SandboxTransfer.objects.count() == 1000
