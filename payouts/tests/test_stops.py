"""A "no" stops money: at creation, when the decision is taken, and in the transaction that claims a payout."""

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections

from customers.models import BankAccount, Customer
from customers.services import customer_verification_set
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT, make_cbu
from payouts import stops
from payouts.models import Payout, PayoutEvent, SandboxTransfer
from payouts.services import payouts_claim
from payouts.worker import PayoutWorker
from testsupport.api import ApiClient, make_merchant
from testsupport.races import waiting_on_a_lock

REJECTED = ("failed", "customer_rejected", "This customer was rejected by compliance review: it cannot be paid.")
DISABLED = ("failed", "account_disabled", "This bank account was disabled: it cannot be paid.")
NUMBER_REJECTED = (
    "failed",
    "customer_rejected",
    "This account number belongs to a customer rejected by compliance review: it cannot be paid.",
)
NUMBER_DISABLED = (
    "failed",
    "account_disabled",
    "This account number is only on disabled bank accounts: it cannot be paid.",
)


def pay(api, **destination) -> dict:
    response = api.post("/payouts", {"amount": "100.00", "currency": "ARS", **destination})
    assert response.status_code == 201, response.content
    return response.json()


def outcome(api, payout: dict) -> tuple:
    body = api.get(f"/payouts/{payout['payoutId']}").json()
    return body["status"], body["failureCode"], body["failureMessage"]


def reject(customer_id: str) -> None:
    customer = Customer.objects.get(public_id=customer_id)
    customer_verification_set(customer=customer, status="rejected", reviewer=None, reason="Sanctions list match")


def run_worker() -> str:
    out = StringIO()
    call_command("process_payouts", "--once", stdout=out)
    return out.getvalue().strip()


def sent_to_rail(*payouts: dict) -> set[str]:
    ids = [payout["payoutId"] for payout in payouts]
    return set(SandboxTransfer.objects.filter(payout_public_id__in=ids).values_list("payout_public_id", flat=True))


def stop_reasons(payout: dict) -> list[tuple[str, str, str]]:
    events = PayoutEvent.objects.filter(payout__public_id=payout["payoutId"]).order_by("id")
    return [(e.from_status, e.to_status, e.reason) for e in events]


def test_rejecting_a_customer_fails_its_pending_payouts_in_the_same_transaction(api, payee):
    with_rail = pay(api, customerId=payee["customerId"])
    payouts_claim(limit=10)  # already handed to the rail: a later decision does not touch it
    saved = pay(api, customerId=payee["customerId"])
    one_off = pay(api, destinationCbu=DOC_ACCOUNT_NUMBER)

    reject(payee["customerId"])

    assert outcome(api, saved) == REJECTED
    assert outcome(api, one_off) == NUMBER_REJECTED
    assert stop_reasons(saved) == [("pending", "failed", "stopped: customer_rejected")]
    assert outcome(api, with_rail)[0] == "processing"
    run_worker()
    assert sent_to_rail(saved, one_off) == set()


def test_disabling_an_account_fails_its_pending_payouts_in_the_same_transaction(api, payee):
    saved = pay(api, customerId=payee["customerId"])
    one_off = pay(api, destinationCbu=DOC_ACCOUNT_NUMBER)
    account = payee["account"]["bankAccountId"]

    response = api.delete(f"/customers/{payee['customerId']}/bank-accounts/{account}")

    assert response.json()["status"] == "disabled"
    assert outcome(api, saved) == DISABLED
    assert outcome(api, one_off) == NUMBER_DISABLED
    assert stop_reasons(one_off) == [("pending", "failed", "stopped: account_disabled")]
    run_worker()
    assert sent_to_rail(saved, one_off) == set()


def test_a_number_still_active_on_another_customer_can_still_be_paid_one_off(api, payee, create_customer):
    other = create_customer(name="Shares the number")
    api.post(f"/customers/{other['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    # Compliance cleared the shared number's review flags: no hold (payouts.holds), this is about stops.
    BankAccount.objects.update(needs_review=False, review_reason="")
    one_off = pay(api, destinationCbu=DOC_ACCOUNT_NUMBER)
    api.delete(f"/customers/{payee['customerId']}/bank-accounts/{payee['account']['bankAccountId']}")
    assert outcome(api, one_off) == ("pending", None, None)
    run_worker()
    assert outcome(api, one_off) == ("paid", None, None)


@pytest.mark.parametrize("decision", ["customer_rejected", "account_disabled"])
@pytest.mark.parametrize("destination", ["customerId", "destinationCbu"])
def test_the_worker_rechecks_a_decision_taken_after_the_payout_was_queued(api, payee, decision, destination):
    """Worker stopped, payout queued, decision written (here straight to the table, as a bulk fix by
    compliance would, so only the worker's re-check stands between it and the rail), worker started."""
    target = {"customerId": payee["customerId"]} if destination == "customerId" else {}
    payout = pay(api, **target, destinationCbu=DOC_ACCOUNT_NUMBER)
    if decision == "customer_rejected":
        Customer.objects.filter(public_id=payee["customerId"]).update(verification_status="rejected")
    else:
        BankAccount.objects.filter(public_id=payee["account"]["bankAccountId"]).update(status="disabled")

    assert run_worker() == "claimed 0, recovered 0, settled 0; outcomes: none"

    expected = {"customer_rejected": REJECTED, "account_disabled": DISABLED}[decision]
    if destination == "destinationCbu":
        expected = {"customer_rejected": NUMBER_REJECTED, "account_disabled": NUMBER_DISABLED}[decision]
    assert outcome(api, payout) == expected
    assert sent_to_rail(payout) == set()
    assert stop_reasons(payout) == [("pending", "failed", f"stopped: {decision}")]


def test_one_offs_to_a_stopped_number_are_refused_at_creation(api, payee, create_customer):
    body = {"amount": "1.00", "currency": "ARS", "destinationCbu": DOC_ACCOUNT_NUMBER}
    accounts = f"/customers/{payee['customerId']}/bank-accounts"
    api.delete(f"{accounts}/{payee['account']['bankAccountId']}")
    refused = api.post("/payouts", body)
    assert refused.status_code == 400
    assert refused.json()["error"]["errors"] == [
        {"param": "destinationCbu", "code": "account_disabled", "message": NUMBER_DISABLED[2]}
    ]

    api.post(accounts, DOC_BANK_ACCOUNT)  # the merchant adds the number again: it can be paid again
    assert api.post("/payouts", body).status_code == 201

    reject(payee["customerId"])
    refused = api.post("/payouts", body)
    assert refused.json()["error"]["errors"] == [
        {"param": "destinationCbu", "code": "customer_rejected", "message": NUMBER_REJECTED[2]}
    ]
    assert Payout.objects.filter(status="pending").count() == 0


def test_other_merchants_decisions_do_not_stop_this_merchants_payouts(api, other_api, payee):
    other_customer = other_api.post("/customers", {"type": "individual", "name": "Other's", "country": "AR"}).json()
    other_api.post(f"/customers/{other_customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    payout = pay(api, destinationCbu=DOC_ACCOUNT_NUMBER)
    reject(other_customer["customerId"])
    assert outcome(api, payout) == ("pending", None, None)
    assert pay(api, destinationCbu=DOC_ACCOUNT_NUMBER)["status"] == "pending"


def test_live_mode_obeys_the_same_decisions(live_payouts_enabled, merchant):
    live = ApiClient(merchant.live)
    customer = live.post("/customers", {"type": "individual", "name": "Live one", "country": "AR"}).json()
    live.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    payout = pay(live, customerId=customer["customerId"])
    reject(customer["customerId"])
    assert outcome(live, payout) == REJECTED


@pytest.mark.django_db(transaction=True)
def test_a_decision_waits_for_a_claim_in_progress_and_never_rewrites_what_the_worker_took(monkeypatch):
    """Real threads: the worker has locked the payout and not yet committed its claim; the analyst rejects
    the customer. The decision must wait for the claim (the payout was handed to the rail first), and must
    not record a failure on a payout that is no longer pending."""
    keys = make_merchant("Race")
    api = ApiClient(keys.test)
    customer = api.post("/customers", {"type": "individual", "name": "Racer", "country": "AR"}).json()
    api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    payout = pay(api, customerId=customer["customerId"])

    locked, go = threading.Event(), threading.Event()
    original = stops.stopped_payouts

    def pause_inside_the_claim(payout_ids):
        if not locked.is_set():  # the worker's claim (first); the decision's own reading goes through
            locked.set()
            assert go.wait(timeout=30)
        return original(payout_ids)

    monkeypatch.setattr(stops, "stopped_payouts", pause_inside_the_claim)
    errors: list[BaseException] = []

    def in_thread(work):
        def run():
            try:
                work()
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    worker = in_thread(lambda: PayoutWorker().run_once())
    assert locked.wait(timeout=30)
    decision = in_thread(lambda: reject(customer["customerId"]))
    deadline = threading.Event()
    for _ in range(3000):  # until the decision is seen waiting on the payout's row lock (≤ 30 s)
        if waiting_on_a_lock() or deadline.wait(0.01):
            break
    assert waiting_on_a_lock(), "the decision did not wait for the claim's lock"
    go.set()
    worker.join(timeout=30)
    decision.join(timeout=30)

    assert errors == []
    assert Customer.objects.get(public_id=customer["customerId"]).verification_status == "rejected"
    assert outcome(api, payout) == ("paid", None, None)
    assert stop_reasons(payout) == [
        ("pending", "processing", "claimed by a worker"),
        ("processing", "paid", "settled by the rail"),
    ]
    assert pay_refused_code(api, customer["customerId"]) == "customer_rejected"


def pay_refused_code(api, customer_id: str) -> str:
    response = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": customer_id})
    return response.json()["error"]["errors"][0]["code"]


def test_a_batch_entirely_stopped_does_not_end_the_drain(api, payee):
    stopped = [pay(api, customerId=payee["customerId"]) for _ in range(2)]
    Customer.objects.filter(public_id=payee["customerId"]).update(verification_status="rejected")
    fine = pay(api, destinationCbu=make_cbu(account="5555555555555"))

    stats = PayoutWorker(batch_size=2).run_once()

    assert (stats.stopped, stats.claimed) == (2, 1)
    assert [outcome(api, p)[0] for p in stopped] == ["failed", "failed"]
    assert outcome(api, fine) == ("paid", None, None)


def test_a_decision_in_one_mode_does_not_stop_the_other_modes_one_offs(api, payee, merchant, live_payouts_enabled):
    live = ApiClient(merchant.live)
    customer = live.post("/customers", {"type": "individual", "name": "Live twin", "country": "AR"}).json()
    live.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    Customer.objects.filter(public_id=customer["customerId"]).update(verification_status="rejected")
    one_off = pay(api, destinationCbu=DOC_ACCOUNT_NUMBER)  # test mode: the number's test customer is fine
    run_worker()
    assert outcome(api, one_off) == ("paid", None, None)
