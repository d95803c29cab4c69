"""The review queue page through the back-office: what waits, oldest first, filters, taking an item, the
beneficiary's history, and deciding in one step (the services' rules, not the page's)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from compliance.models import Assignment
from compliance.roles import ANALYST
from customers.models import BankAccount, Customer
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT
from payouts.models import Payout
from testsupport.compliance import quiet_hold_rules, staff_member
from testsupport.factories import backdate_flag

QUEUE = "/admin/compliance/assignment/"


@pytest.fixture(autouse=True)
def thresholds(settings):
    quiet_hold_rules(settings, COMPLIANCE_HOLD_AMOUNT="1000.00", COMPLIANCE_FOUR_EYES_AMOUNT="5000.00")


def analyst_client(username: str) -> tuple[Client, object]:
    user = staff_member(username, ANALYST)
    client = Client()
    client.force_login(user)
    return client, user


def pay(api, amount: str, **destination) -> dict:
    response = api.post("/payouts", {"amount": amount, "currency": "ARS", **destination})
    assert response.status_code == 201, response.content
    return response.json()


def item_url(payout_or_account) -> str:
    kind = "payout" if isinstance(payout_or_account, Payout) else "bank_account"
    return f"{QUEUE}{kind}/{payout_or_account.pk}/"


def test_the_queue_lists_held_payouts_and_flagged_accounts_oldest_first(api, payee, create_customer):
    first = pay(api, "2000.00", customerId=payee["customerId"])
    pay(api, "10.00", customerId=payee["customerId"])  # not held: not in the queue
    other = create_customer(name="Shares the number")
    api.post(f"/customers/{other['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)  # flags both accounts
    second = pay(api, "3000.00", customerId=payee["customerId"])
    client, _ = analyst_client("ana")
    page = client.get(QUEUE)
    assert page.status_code == 200
    subjects = [item.subject for item in page.context["page"].items]
    accounts = list(BankAccount.objects.filter(needs_review=True).order_by("id").values_list("public_id", flat=True))
    assert set(subjects) == {first["payoutId"], second["payoutId"], *accounts}
    assert subjects.index(first["payoutId"]) < subjects.index(second["payoutId"])
    assert page.context["page"].counts == {"payout": "2", "bank_account": "2"}
    body = page.content.decode()
    assert "amount_over_threshold" in body and DOC_ACCOUNT_NUMBER not in body

    by_reason = client.get(QUEUE, {"reason": "account_needs_review"})
    assert [item.subject for item in by_reason.context["page"].items] == [second["payoutId"]]
    flagged = client.get(QUEUE, {"reason": "account_flagged"})
    assert [item.subject for item in flagged.context["page"].items] == accounts
    other_merchant = client.get(QUEUE, {"merchant": "999999"})
    assert other_merchant.context["page"].items == []


def test_the_queue_pages_by_keyset(api, payee):
    held = [pay(api, "2000.00", customerId=payee["customerId"])["payoutId"] for _ in range(3)]
    client, _ = analyst_client("ana")
    seen, query = [], {}
    from compliance import queue

    original = queue.queue_page
    try:
        queue.queue_page = lambda filters, after=queue.START, size=50: original(filters, after=after, size=2)
        for _ in range(3):
            page = client.get(QUEUE, query)
            seen += [item.subject for item in page.context["page"].items]
            if not page.context["next_query"]:
                break
            query = dict(pair.split("=") for pair in page.context["next_query"].split("&"))
    finally:
        queue.queue_page = original
    assert seen == held


def flag(account: BankAccount) -> BankAccount:
    BankAccount.objects.filter(pk=account.pk).update(needs_review=True, review_reason="Checked by hand.")
    return BankAccount.objects.get(pk=account.pk)


def walk(client: Client, size: int) -> list[str]:
    """Every subject, page after page of `size` items, following each page's Next link."""
    from compliance import queue

    seen, query, original = [], {}, queue.queue_page
    try:
        queue.queue_page = lambda filters, after=queue.START, size_=size: original(filters, after=after, size=size_)
        for _ in range(50):
            page = client.get(QUEUE, query)
            seen += [item.subject for item in page.context["page"].items]
            if not page.context["next_query"]:
                return seen
            query = dict(pair.split("=") for pair in page.context["next_query"].split("&"))
    finally:
        queue.queue_page = original
    raise AssertionError("the pages did not end")


def test_a_flagged_account_waits_since_it_was_flagged_not_since_it_was_made(api, payee, create_customer):
    """An account made a year ago and flagged an hour ago waits an hour, after an account made yesterday
    and flagged two days' worth earlier; a payout held between the two sorts between them."""
    now = timezone.now()
    new_customer = create_customer(name="New")
    old = BankAccount.objects.get(public_id=payee["account"]["bankAccountId"])
    BankAccount.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=365))
    body = {**DOC_BANK_ACCOUNT, "accountNumber": None, "metadata": {}}
    new = BankAccount.objects.get(
        public_id=api.post(f"/customers/{new_customer['customerId']}/bank-accounts", body).json()["bankAccountId"]
    )
    BankAccount.objects.filter(pk=new.pk).update(created_at=now - timedelta(days=1))
    backdate_flag(flag(new), now - timedelta(days=2, hours=3))
    backdate_flag(flag(old), now - timedelta(hours=1, minutes=5))
    held = Payout.objects.get(public_id=pay(api, "2000.00", customerId=payee["customerId"])["payoutId"])
    Payout.objects.filter(pk=held.pk).update(created_at=now - timedelta(hours=5))

    client, _ = analyst_client("ana")
    page = client.get(QUEUE)
    items = page.context["page"].items
    assert [item.subject for item in items] == [new.public_id, held.public_id, old.public_id]
    assert [round(item.age / timedelta(hours=1)) for item in items] == [51, 5, 1]
    rows = page.content.decode().split('class="queue-item"')[1:]
    assert "2\xa0days, 3\xa0hours" in rows[0] and "1\xa0hour, 5\xa0minutes" in rows[2]
    assert (now - timedelta(days=365)).strftime("%Y-%m-%d") not in page.content.decode()

    item_page = client.get(item_url(old)).content.decode()
    waiting = (now - timedelta(hours=1, minutes=5)).astimezone(timezone.get_current_timezone())
    assert f"{waiting:%Y-%m-%d %H:%M} (1\xa0hour, 5\xa0minutes), when it was flagged" in item_page


def test_the_queue_pages_accounts_flagged_at_the_same_time_without_losing_or_repeating_one(api, payee, create_customer):
    """An import batch flags thousands of accounts in one statement, all at one time: the keyset is
    (flagged_at, id), and a page may end inside such a group."""
    now = timezone.now()
    body = {**DOC_BANK_ACCOUNT, "accountNumber": None, "metadata": {}}
    accounts = []
    for i in range(5):
        customer = create_customer(name=f"Same time {i}")
        created = api.post(f"/customers/{customer['customerId']}/bank-accounts", body).json()
        accounts.append(BankAccount.objects.get(public_id=created["bankAccountId"]))
    BankAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(needs_review=True, review_reason="Batch.")
    together = {a.flagged_at for a in BankAccount.objects.filter(pk__in=[a.pk for a in accounts])}
    assert len(together) == 1  # one statement, one time
    for account in accounts:
        backdate_flag(account, now - timedelta(hours=2))
    earlier = accounts[-1]  # the newest account, flagged first: id order is not the queue's
    accounts = accounts[:-1]
    backdate_flag(earlier, now - timedelta(hours=4))
    payouts = [
        Payout.objects.get(public_id=pay(api, "2000.00", customerId=payee["customerId"])["payoutId"]) for _ in range(3)
    ]
    for payout, hours in zip(payouts, [3, 2, 1], strict=True):  # the second waits as long as the group
        Payout.objects.filter(pk=payout.pk).update(created_at=now - timedelta(hours=hours))

    expected = [earlier, payouts[0], *accounts, payouts[1], payouts[2]]  # a tie: accounts, then payouts
    client, _ = analyst_client("ana")
    for size in (1, 2, 3, 50):
        assert walk(client, size) == [item.public_id for item in expected], size


def test_taking_an_item_is_visible_to_others_and_filters_mine(api, payee):
    held = Payout.objects.get(public_id=pay(api, "2000.00", customerId=payee["customerId"])["payoutId"])
    ana, ana_user = analyst_client("ana")
    bruno, _ = analyst_client("bruno")
    assert ana.post(item_url(held), {"action": "take"}).status_code == 302
    assert Assignment.objects.get(kind="payout", object_id=held.pk).assignee == ana_user
    row = bruno.get(QUEUE).context["page"].items[0]
    assert (row.subject, row.assignee) == (held.public_id, "ana")
    assert [i.subject for i in ana.get(QUEUE, {"mine": "1"}).context["page"].items] == [held.public_id]
    assert bruno.get(QUEUE, {"mine": "1"}).context["page"].items == []
    assert "ana since" in bruno.get(item_url(held)).content.decode()


def test_the_item_page_shows_the_beneficiarys_history_without_the_number(api, payee, create_customer):
    other = create_customer(name="Shares the number")
    api.post(f"/customers/{other['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    earlier = pay(api, "10.00", customerId=payee["customerId"])
    held = Payout.objects.get(public_id=pay(api, "2000.00", customerId=payee["customerId"])["payoutId"])
    client, _ = analyst_client("ana")
    page = client.get(item_url(held))
    assert page.status_code == 200
    assert [a.customer.public_id for a in page.context["sharing"]] == [other["customerId"]]
    assert earlier["payoutId"] in [p.public_id for p in page.context["last_payouts"]]
    assert any(entry.subject.startswith("bank account") for entry in page.context["changes"])
    assert DOC_ACCOUNT_NUMBER not in page.content.decode()


def test_approve_and_reject_from_the_item_page(api, payee):
    approved = Payout.objects.get(public_id=pay(api, "2000.00", customerId=payee["customerId"])["payoutId"])
    rejected = Payout.objects.get(public_id=pay(api, "2500.00", customerId=payee["customerId"])["payoutId"])
    client, _ = analyst_client("ana")
    client.post(item_url(approved), {"action": "take"})
    response = client.post(item_url(approved), {"action": "approve", "reason": ""}, follow=True)
    assert "Payout approved" in response.content.decode()
    assert api.get(f"/payouts/{approved.public_id}").json()["status"] == "pending"
    assert not Assignment.objects.filter(kind="payout", object_id=approved.pk).exists()

    missing = client.post(item_url(rejected), {"action": "reject", "reason": " "}, follow=True)
    assert "A rejection needs a reason." in missing.content.decode()
    assert api.get(f"/payouts/{rejected.public_id}").json()["status"] == "held"
    client.post(item_url(rejected), {"action": "reject", "reason": "Unknown beneficiary"})
    body = api.get(f"/payouts/{rejected.public_id}").json()
    assert (body["status"], body["failureCode"]) == ("failed", "compliance_rejected")
    assert [item.subject for item in client.get(QUEUE).context["page"].items] == []

    # The payouts list offers the rejection's failure code in its filter, and the filter finds the payout.
    payouts_page = client.get("/admin/payouts/payout/")
    assert "?failure_code__exact=compliance_rejected" in payouts_page.content.decode()
    filtered = client.get("/admin/payouts/payout/", {"failure_code__exact": "compliance_rejected"})
    listed = filtered.content.decode()
    assert rejected.public_id in listed and approved.public_id not in listed


def test_four_eyes_from_the_item_page(api, payee):
    payout = Payout.objects.get(public_id=pay(api, "6000.00", customerId=payee["customerId"])["payoutId"])
    ana, _ = analyst_client("ana")
    bruno, _ = analyst_client("bruno")
    first = ana.post(item_url(payout), {"action": "approve"}, follow=True).content.decode()
    assert "First approval recorded" in first
    same = ana.post(item_url(payout), {"action": "approve"}, follow=True).content.decode()
    assert "a second, different analyst must approve it" in same
    assert api.get(f"/payouts/{payout.public_id}").json()["status"] == "held"
    bruno.post(item_url(payout), {"action": "approve"})
    assert api.get(f"/payouts/{payout.public_id}").json()["status"] == "pending"


def test_a_flagged_account_is_cleared_or_its_customer_decided_by_the_customer_services(api, payee, create_customer):
    other = create_customer(name="Shares the number")
    api.post(f"/customers/{other['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    mine, theirs = BankAccount.objects.filter(needs_review=True).order_by("id")
    client, _ = analyst_client("ana")
    missing = client.post(item_url(mine), {"action": "clear", "reason": ""}, follow=True)
    assert "Clearing a review flag needs a reason." in missing.content.decode()
    client.post(item_url(mine), {"action": "clear", "reason": "Same person, two merchant accounts"})
    mine.refresh_from_db()
    assert (mine.needs_review, mine.review_reason) == (False, "")
    trail = mine.audit_events.order_by("-pgh_id").first()
    assert (trail.pgh_context["actor"], trail.pgh_context["reason"]) == (
        "staff:ana",
        "Same person, two merchant accounts",
    )

    client.post(item_url(theirs), {"action": "reject_customer", "reason": "Identity theft"})
    assert Customer.objects.get(pk=theirs.customer_id).verification_status == "rejected"


def test_staff_without_a_role_see_no_queue(db):
    user = get_user_model().objects.create_user("clerk", password="pw-long-enough-123", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(QUEUE).status_code == 403


def test_a_compliance_admin_sets_a_merchants_own_hold_threshold_and_nothing_else(api, payee, merchant):
    from compliance.roles import ADMIN
    from compliance.tests.test_verification import staff_client
    from merchants.models import Merchant

    keys = list(merchant.merchant.api_keys.order_by("id"))
    form = {
        "name": "Renamed",
        "compliance_hold_amount": "50.00",
        "api_keys-TOTAL_FORMS": str(len(keys)),
        "api_keys-INITIAL_FORMS": str(len(keys)),
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
        **{f"api_keys-{i}-id": str(key.pk) for i, key in enumerate(keys)},
        **{f"api_keys-{i}-merchant": str(merchant.merchant.pk) for i in range(len(keys))},
    }
    url = f"/admin/merchants/merchant/{merchant.merchant.pk}/change/"
    assert staff_client("ana", ANALYST).post(url, form).status_code == 403
    response = staff_client("root", ADMIN).post(url, form)
    assert response.status_code == 302, response.content[:2000]
    stored = Merchant.objects.get(pk=merchant.merchant.pk)
    assert (stored.compliance_hold_amount, stored.name) == (Decimal("50.00"), "Acme")
    assert pay(api, "50.00", customerId=payee["customerId"])["holdReasons"] == ["amount_over_threshold"]


@pytest.mark.parametrize(
    "query",
    [
        {"merchant": "²"},  # str.isdigit() says yes, int() says no
        {"merchant": "١٢"},  # Arabic-Indic digits: int() reads them, they are no merchant id
        {"merchant": "9" * 5000},  # over int()'s digit limit
        {"merchant": "9" * 30},  # over a bigint
        {"after": "².1.1"},
        {"after": "9" * 30 + ".1.1"},
        {"after": "9" * 5000 + ".1.1"},
        {"after": "0.1.²"},
        {"after": "0." + "9" * 18 + ".1"},  # flagged in the year 31,688: past datetime's range
        {"after": "0.1"},  # the cursor's earlier form (payout id, account id)
        {"after": "0.1.2.3"},
        {"after": "0..1"},
    ],
)
def test_the_queue_ignores_a_filter_or_cursor_that_is_no_id(api, payee, query):
    held = pay(api, "2000.00", customerId=payee["customerId"])
    client, _ = analyst_client("ana")
    client.raise_request_exception = False
    page = client.get(QUEUE, query)
    assert page.status_code == 200
    assert page.context["filters"].merchant_id is None
    assert [item.subject for item in page.context["page"].items] == [held["payoutId"]]


def merchant_form(merchant, hold_amount: str) -> dict:
    keys = list(merchant.merchant.api_keys.order_by("id"))
    return {
        "name": merchant.merchant.name,
        "compliance_hold_amount": hold_amount,
        "api_keys-TOTAL_FORMS": str(len(keys)),
        "api_keys-INITIAL_FORMS": str(len(keys)),
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
        **{f"api_keys-{i}-id": str(key.pk) for i, key in enumerate(keys)},
        **{f"api_keys-{i}-merchant": str(merchant.merchant.pk) for i in range(len(keys))},
    }


@pytest.mark.parametrize("amount", ["0", "0.00", "-1.00", "5000.01", "10000000.00"])
def test_a_merchants_own_hold_threshold_is_above_zero_and_at_most_the_four_eyes_amount(merchant, amount):
    from compliance.roles import ADMIN
    from compliance.tests.test_verification import staff_client
    from merchants.models import Merchant

    Merchant.objects.filter(pk=merchant.merchant.pk).update(compliance_hold_amount=Decimal("50.00"))
    url = f"/admin/merchants/merchant/{merchant.merchant.pk}/change/"
    response = staff_client("root", ADMIN).post(url, merchant_form(merchant, amount))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["compliance_hold_amount"] == [
        "The hold threshold must be more than 0 and at most COMPLIANCE_FOUR_EYES_AMOUNT (5000.00 ARS), above "
        "which two analysts approve. Leave it empty for the platform's default (1000.00 ARS)."
    ]
    assert Merchant.objects.get(pk=merchant.merchant.pk).compliance_hold_amount == Decimal("50.00")


@pytest.mark.parametrize("amount", ["0.01", "5000.00", ""])
def test_a_merchants_own_hold_threshold_may_be_the_four_eyes_amount_or_empty(merchant, amount):
    from compliance.roles import ADMIN
    from compliance.tests.test_verification import staff_client
    from merchants.models import Merchant

    url = f"/admin/merchants/merchant/{merchant.merchant.pk}/change/"
    response = staff_client("root", ADMIN).post(url, merchant_form(merchant, amount))
    assert response.status_code == 302, response.content[:2000]
    stored = Merchant.objects.get(pk=merchant.merchant.pk).compliance_hold_amount
    assert stored == (Decimal(amount) if amount else None)


@pytest.mark.parametrize("amount", ["0.00", "-1.00"])
def test_the_database_refuses_a_hold_threshold_that_is_not_above_zero(merchant, amount):
    from django.db import IntegrityError, transaction

    from merchants.models import Merchant

    with pytest.raises(IntegrityError, match="merchant_compliance_hold_amount_positive"), transaction.atomic():
        Merchant.objects.filter(pk=merchant.merchant.pk).update(compliance_hold_amount=Decimal(amount))


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_reason_with_a_nul_character_is_refused_not_a_500(api, payee, action):
    held = Payout.objects.get(public_id=pay(api, "2000.00", customerId=payee["customerId"])["payoutId"])
    client, _ = analyst_client("ana")
    response = client.post(item_url(held), {"action": action, "reason": "Looks\x00fine"}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == ["The reason cannot contain a NUL character."]
    held.refresh_from_db()
    assert held.status == Payout.Status.HELD
    assert not held.approvals.exists()


@pytest.mark.parametrize(
    ("action", "reason", "message"),
    [
        ("clear", "Same\x00person", "The reason cannot contain a NUL character."),
        ("verify", "Known\x00customer", "The reason cannot contain a NUL character."),
        ("reject_customer", "Identity\x00theft", "The reason cannot contain a NUL character."),
        ("verify", "x" * 501, "The reason may be at most 500 characters."),
        ("reject_customer", "x" * 501, "The reason may be at most 500 characters."),
    ],
)
def test_an_account_items_decision_with_a_bad_reason_is_refused_not_a_500(
    api, payee, create_customer, action, reason, message
):
    other = create_customer(name="Shares the number")
    api.post(f"/customers/{other['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    flagged = BankAccount.objects.filter(needs_review=True).order_by("id").first()
    client, _ = analyst_client("ana")
    response = client.post(item_url(flagged), {"action": action, "reason": reason}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [message]
    flagged.refresh_from_db()
    assert flagged.needs_review
    assert Customer.objects.get(pk=flagged.customer_id).verification_status == "unverified"
