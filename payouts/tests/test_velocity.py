"""The velocity hold's hourly totals (payouts.models.VelocityHour): kept equal to the payouts they sum by every
write that creates or ends a payout, and read into exactly the last 24 hours (payouts_hold_facts)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone

from compliance.roles import ANALYST
from customers.models import Customer
from customers.services import customer_verification_set
from customers.tests.factories import DOC_BANK_ACCOUNT, make_cbu
from payouts import holds
from payouts.models import Payout, VelocityHour
from payouts.rails import SANDBOX_FAILURES
from payouts.services import payout_reject
from testsupport.api import ApiClient, make_merchant, run_at_once
from testsupport.compliance import quiet_hold_rules, staff_member

FAILING_NUMBER = next(iter(SANDBOX_FAILURES))


@pytest.fixture(autouse=True)
def quiet_rules(settings):
    quiet_hold_rules(settings)


def pay(api, amount: str, **destination) -> dict:
    response = api.post("/payouts", {"amount": amount, "currency": "ARS", **destination})
    assert response.status_code == 201, response.content
    return response.json()


def hourly_totals() -> dict[tuple[str, datetime], Decimal]:
    """The totals kept, without the hours given back to zero."""
    rows = VelocityHour.objects.exclude(amount=0).values_list("customer_public_id", "hour", "amount")
    return {(customer, hour): amount for customer, hour, amount in rows}


def totals_from_payouts() -> dict[tuple[str, datetime], Decimal]:
    """What they must be: every saved customer's payouts per hour (UTC), failed and canceled aside."""
    totals: dict[tuple[str, datetime], Decimal] = {}
    for payout in Payout.objects.exclude(customer_public_id=None).exclude(status__in=["failed", "canceled"]):
        key = (payout.customer_public_id, payout.created_at.astimezone(UTC).replace(minute=0, second=0))
        totals[key] = totals.get(key, Decimal("0")) + payout.amount
    return totals


def customer_with_account(api, name: str, number: str | None = None) -> str:
    customer = api.post("/customers", {"type": "individual", "name": name, "country": "AR"}).json()
    account = {**DOC_BANK_ACCOUNT, "accountNumber": number or make_cbu()}
    response = api.post(f"/customers/{customer['customerId']}/bank-accounts", account)
    assert response.status_code == 201, response.content
    return customer["customerId"]


@pytest.mark.django_db
def test_the_hourly_totals_stay_the_sum_of_the_payouts_through_every_ending(api, settings):
    ana = customer_with_account(api, "Ana", make_cbu(account="1000000000001"))
    beto = customer_with_account(api, "Beto", FAILING_NUMBER)
    carla = customer_with_account(api, "Carla", make_cbu(account="1000000000003"))
    kept = pay(api, "100.00", customerId=ana)
    canceled = pay(api, "20.00", customerId=ana)
    assert api.post(f"/payouts/{canceled['payoutId']}/cancel").status_code == 200
    pay(api, "30.00", customerId=beto)  # the rail fails it
    stopped = pay(api, "40.00", customerId=carla)
    pay(api, "45.00", customerId=carla)  # two of one customer's payouts in one hour, given back together
    pay(api, "7.00", destinationCbu=make_cbu(account="1000000000009"))  # a one-off: no customer, no total
    settings.COMPLIANCE_HOLD_AMOUNT = "500.00"
    held = pay(api, "500.00", customerId=ana)
    staff = staff_member("ana-analyst", ANALYST)
    payout_reject(payout=Payout.objects.get(public_id=held["payoutId"]), staff=staff, reason="not this one")
    rejected = Customer.objects.get(public_id=carla)
    customer_verification_set(customer=rejected, status="rejected", reviewer=None, reason="Sanctions list match")
    call_command("process_payouts", "--once", stdout=StringIO())

    statuses = dict(Payout.objects.values_list("public_id", "status"))
    assert (statuses[kept["payoutId"]], statuses[stopped["payoutId"]]) == ("paid", "failed")
    assert sorted(Payout.objects.values_list("status", flat=True)) == [
        "canceled", "failed", "failed", "failed", "failed", "paid", "paid"
    ]  # fmt: skip
    assert hourly_totals() == totals_from_payouts()
    assert sum(hourly_totals().values()) == Decimal("100.00")


@pytest.mark.django_db(transaction=True)
def test_parallel_payouts_to_one_customer_all_count():
    api = ApiClient(make_merchant("Parallel").test)
    payee = customer_with_account(api, "Many")
    results = run_at_once(8, lambda: api.post("/payouts", {"amount": "12.50", "currency": "ARS", "customerId": payee}))
    assert [r.status_code for r in results] == [201] * 8
    assert sum(hourly_totals().values()) == Decimal("100.00")
    assert hourly_totals() == totals_from_payouts()


# Reading: the window's first hour is read exactly from the payouts, the others from their totals. Payouts are
# placed around a fixed hour T, their totals filled as the migration fills them, and the function is asked
# about windows starting at several instants of T's hour.

T = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
PLACED = {  # minutes after T → amount (one failed payout at +25 must never count)
    10: "1.00",
    20: "2.00",
    25: "64.00",
    50: "4.00",
    65: "8.00",
    23 * 60: "16.00",
    25 * 60: "32.00",  # after the windows' end: still counts (the window has no end but now)
}
FAILED_AT = 25


def recent_total(customer_public_id: str, since: datetime) -> Decimal:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT recent_total FROM payouts_hold_facts(0, 0, %s, 0, 'infinity', %s)", [customer_public_id, since]
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("since_minutes", "expected"),
    [
        (0, "63.00"),  # the whole first hour
        (15, "62.00"),  # inside the first hour: the payout at +10 is out
        (21, "60.00"),
        (55, "56.00"),  # the first hour has payouts, all before the window
        (60, "56.00"),  # on the hour: the first hour is whole
        (90, "48.00"),  # the first hour's only payout is before the window
        (24 * 60, "32.00"),
    ],
)
def test_the_window_counts_exactly_the_payouts_since_its_start(api, since_minutes, expected):
    payee = customer_with_account(api, "Placed")
    for minutes, amount in PLACED.items():
        payout = pay(api, amount, customerId=payee)
        status = "failed" if minutes == FAILED_AT else "paid"
        Payout.objects.filter(public_id=payout["payoutId"]).update(
            created_at=T + timedelta(minutes=minutes), status=status
        )
    VelocityHour.objects.all().delete()
    holds.velocity_rebuild(now=T + holds.REBUILD_HOURS)  # the totals from T on, as the migration fills them
    assert recent_total(payee, T + timedelta(minutes=since_minutes)) == Decimal(expected)


@pytest.mark.django_db
def test_a_payout_gives_back_to_the_hour_it_was_created_in(api):
    payee = customer_with_account(api, "Two hours ago")
    early = pay(api, "30.00", customerId=payee)
    two_hours = timedelta(hours=2)  # the early payout, and its total, moved back two hours
    Payout.objects.filter(public_id=early["payoutId"]).update(created_at=F("created_at") - two_hours)
    VelocityHour.objects.update(hour=F("hour") - two_hours)
    later = pay(api, "5.00", customerId=payee)
    pay(api, "5.00", customerId=payee)
    assert api.post(f"/payouts/{early['payoutId']}/cancel").status_code == 200
    assert api.post(f"/payouts/{later['payoutId']}/cancel").status_code == 200
    assert hourly_totals() == totals_from_payouts()
    assert list(hourly_totals().values()) == [Decimal("5.00")]


@pytest.mark.django_db
def test_the_purge_keeps_the_windows_first_hour_and_one_more(api):
    payee = customer_with_account(api, "Old and new")
    pay(api, "10.00", customerId=payee)
    first = holds.velocity_hour(timezone.now() - holds.VELOCITY_WINDOW)
    for hours_before, amount in ((0, 1), (1, 2), (2, 3), (30, 4)):
        VelocityHour.objects.create(customer_public_id=payee, hour=first - timedelta(hours=hours_before), amount=amount)
    out = StringIO()
    call_command("purge_velocity_hours", stdout=out)
    assert out.getvalue().strip() == "deleted 2 hourly totals"
    assert sorted(VelocityHour.objects.values_list("amount", flat=True)) == [1, 2, 10]


@pytest.mark.django_db
def test_the_rebuild_makes_the_totals_of_the_last_25_hours_the_payouts_again(api):
    ana, beto = customer_with_account(api, "Ana"), customer_with_account(api, "Beto")
    pay(api, "10.00", customerId=ana)
    pay(api, "20.00", customerId=beto)
    expected = totals_from_payouts()
    VelocityHour.objects.filter(customer_public_id=ana).update(amount=Decimal("999.00"))  # gave nothing back
    VelocityHour.objects.filter(customer_public_id=beto).delete()  # created by a release without totals
    long_ago = holds.velocity_hour(timezone.now() - timedelta(hours=40))
    VelocityHour.objects.create(customer_public_id=ana, hour=long_ago, amount=7)  # out of reach: kept
    call_command("rebuild_velocity_hours", stdout=StringIO())
    assert hourly_totals() == expected | {(ana, long_ago): Decimal("7.00")}
