"""Two workers claiming at once, with real threads on PostgreSQL: a claim that fails payouts a decision stopped
gives their amounts back to the limits' counters, and two claims doing so for the same merchants must not
deadlock (each locks every counter it gives back to in one order, once)."""

from decimal import Decimal

import pytest

from customers.models import BankAccount, Customer
from customers.tests.factories import DOC_BANK_ACCOUNT, make_cbu
from limits.models import PayoutLimit
from payouts.models import Payout
from payouts.services import payouts_claim
from testsupport.api import ApiClient, make_merchant
from testsupport.compliance import quiet_hold_rules
from testsupport.races import race

pytestmark = pytest.mark.django_db(transaction=True)


def payee(api: ApiClient, name: str, account: str) -> str:
    customer = api.post("/customers", {"type": "individual", "name": name, "country": "AR"}).json()["customerId"]
    number = {**DOC_BANK_ACCOUNT, "accountNumber": make_cbu(account=account)}
    assert api.post(f"/customers/{customer}/bank-accounts", number).status_code == 201
    return customer


def pay(api: ApiClient, customer: str) -> str:
    response = api.post("/payouts", {"amount": "10.00", "currency": "ARS", "customerId": customer})
    assert response.status_code == 201, response.content
    return response.json()["payoutId"]


def test_two_claims_failing_stopped_payouts_of_two_merchants_do_not_deadlock(settings):
    """Each claim fails one merchant's payouts as customer_rejected and the other's as account_disabled. Failed
    one group at a time, with the day's counters given back per group, the two claims locked the two
    merchants' counters in opposite orders: PostgreSQL broke the deadlock by failing one claim."""
    quiet_hold_rules(settings)
    apis, rejected, disabled = [], [], []
    for n, name in enumerate(("One", "Two")):
        keys = make_merchant(name)
        PayoutLimit.objects.create(merchant=keys.merchant, livemode=False, daily_max=Decimal("1000000.00"))
        api = ApiClient(keys.test)
        apis.append(api)
        rejected.append(payee(api, "To be rejected", f"10000000000{n}1"))
        disabled.append(payee(api, "Account to be disabled", f"10000000000{n}2"))
    # Claimed oldest first, two at a time: the first claim takes Two's rejected and One's disabled payout,
    # the second One's rejected and Two's disabled one.
    order = [(1, rejected), (0, disabled), (0, rejected), (1, disabled)]
    paid = [pay(apis[m], customers[m]) for m, customers in order]
    Customer.objects.filter(public_id__in=rejected).update(verification_status="rejected")  # decided since
    BankAccount.objects.filter(customer__public_id__in=disabled).update(status="disabled")

    results, errors = race(
        lambda: payouts_claim(limit=2), lambda: payouts_claim(limit=2), pause_after="limits_payoutlimitusage"
    )

    assert errors == []
    assert sorted(claim.stopped for claim in results) == [2, 2]
    failed = Payout.objects.filter(public_id__in=paid, status="failed")
    assert sorted(failed.values_list("failure_code", flat=True)) == ["account_disabled"] * 2 + ["customer_rejected"] * 2
