"""The trail in the back-office: object pages show history and payouts, the trail has its own lists, full
numbers are revealed only with the permission and every reveal is recorded."""

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.roles import ADMIN, ANALYST
from compliance.tests.test_verification import page, staff_client
from customers.models import BankAccount, Customer
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT, make_cbu

BankAccountHistory = apps.get_model("customers", "BankAccountHistory")


@pytest.fixture
def account(api, create_customer) -> BankAccount:
    customer = create_customer(name="Gerardo Ratto")
    api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    return BankAccount.objects.get(customer__public_id=customer["customerId"])


def reveal_url(account: BankAccount) -> str:
    return f"/admin/customers/bankaccount/{account.pk}/reveal/"


def test_an_analyst_cannot_reveal_a_number_and_nothing_is_recorded(account):
    analyst = staff_client("ana", ANALYST)
    assert "Reveal full number" not in page(analyst, f"/admin/customers/bankaccount/{account.pk}/change/")
    for response in (analyst.get(reveal_url(account)), analyst.post(reveal_url(account))):
        assert response.status_code == 403
        assert DOC_ACCOUNT_NUMBER not in response.content.decode()
    assert not BankAccountHistory.objects.filter(pgh_label="reveal").exists()


def test_a_compliance_admin_reveals_a_number_and_the_reveal_is_recorded(account):
    admin = staff_client("root", ADMIN)
    assert "Reveal full number" in page(admin, f"/admin/customers/bankaccount/{account.pk}/change/")
    confirm = admin.get(reveal_url(account))
    assert confirm.status_code == 200 and DOC_ACCOUNT_NUMBER not in confirm.content.decode()
    assert not BankAccountHistory.objects.filter(pgh_label="reveal").exists()  # asking is not revealing

    shown = admin.post(reveal_url(account))
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    assert f'<strong id="revealed-number">{DOC_ACCOUNT_NUMBER}</strong>' in shown.content.decode()
    (event,) = BankAccountHistory.objects.filter(pgh_label="reveal")
    assert (event.pgh_obj_id, event.pgh_context["actor"]) == (account.pk, "staff:root")
    assert DOC_ACCOUNT_NUMBER not in str(event.__dict__)
    # The account page and the trail's list show the reveal, never the number.
    for url in (f"/admin/customers/bankaccount/{account.pk}/change/", "/admin/customers/bankaccounthistory/"):
        text = page(admin, url)
        assert "reveal" in text and "staff:root" in text and DOC_ACCOUNT_NUMBER not in text


def test_the_customer_page_shows_payouts_and_the_history_of_it_and_its_accounts(api, account):
    customer = account.customer
    payout = api.post("/payouts", {"amount": "25.00", "currency": "ARS", "customerId": customer.public_id}).json()
    analyst = staff_client("ana", ANALYST)
    analyst.post(f"/admin/customers/customer/{customer.pk}/verification/", {"decision": "verify"})

    text = page(analyst, f"/admin/customers/customer/{customer.pk}/change/")
    payouts = text[text.index('id="customer-payouts"') : text.index('id="audit-history"')]
    assert payout["payoutId"] in payouts and "25.00 ARS" in payouts and "…1644" in payouts
    history = text[text.index('id="audit-history"') :]
    assert f"bank account {account.public_id}" in history and f"customer {customer.public_id}" in history
    assert "staff:ana" in history and "<b>verification_status</b>: unverified → verified" in history
    assert DOC_ACCOUNT_NUMBER not in text


def test_the_trail_lists_are_searchable_by_actor_and_object(api, create_customer):
    first, second = create_customer(name="Uno"), create_customer(name="Dos")
    api.patch(f"/customers/{first['customerId']}", {"name": "Uno bis"})
    analyst = staff_client("ana", ANALYST)
    by_object = page(analyst, f"/admin/customers/customerhistory/?q={first['customerId']}")
    assert first["customerId"] in by_object and second["customerId"] not in by_object
    assert "<b>name</b>: Uno → Uno bis" in by_object
    assert second["customerId"] in page(analyst, "/admin/customers/customerhistory/?q=api_key%3Ask_test")
    assert "0 customer history" in page(analyst, "/admin/customers/customerhistory/?q=staff%3Anobody")


def test_a_trail_list_costs_the_same_queries_for_3_or_12_events(api, create_customer):
    analyst = staff_client("ana", ANALYST)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(analyst, "/admin/customers/customerhistory/")
        return len(captured)

    for i in range(3):
        customer = create_customer(name=f"c{i}")
    api.patch(f"/customers/{customer['customerId']}", {"name": "c"})  # updates read their previous event
    few = queries()
    for i in range(9):
        customer = create_customer(name=f"d{i}")
        api.patch(f"/customers/{customer['customerId']}", {"name": f"e{i}"})
    assert queries() == few


def test_a_large_payout_soon_after_the_account_was_added_flags_it(api, account, settings):
    settings.COMPLIANCE_LARGE_PAYOUT_AMOUNT = "100000.00"
    body = {"currency": "ARS", "customerId": account.customer.public_id}
    assert api.post("/payouts", {**body, "amount": "99999.99"}).status_code == 201
    account.refresh_from_db()
    assert not account.needs_review

    for _ in range(2):  # the reason is added once
        assert api.post("/payouts", {**body, "amount": "100000.00"}).status_code == 201
    account.refresh_from_db()
    assert account.needs_review
    assert account.review_reason == "Details added or changed shortly before a large payout."


def test_a_large_payout_to_a_long_held_account_is_not_flagged(api, account, settings):
    settings.COMPLIANCE_LARGE_PAYOUT_AMOUNT = "100000.00"
    settings.COMPLIANCE_RECENT_CHANGE_HOURS = 72
    BankAccount.objects.filter(pk=account.pk).update(details_changed_at=account.created_at.replace(year=2020))
    api.post("/payouts", {"currency": "ARS", "customerId": account.customer.public_id, "amount": "500000.00"})
    account.refresh_from_db()
    assert (account.needs_review, account.review_reason) == (False, "")


def test_changing_the_holder_restarts_the_recent_change_window(api, account, settings):
    settings.COMPLIANCE_LARGE_PAYOUT_AMOUNT = "100000.00"
    BankAccount.objects.filter(pk=account.pk).update(details_changed_at=account.created_at.replace(year=2020))
    path = f"/customers/{account.customer.public_id}/bank-accounts/{account.public_id}"
    assert api.patch(path, {"holderName": "Gerardo A. Ratto"}).status_code == 200
    api.post("/payouts", {"currency": "ARS", "customerId": account.customer.public_id, "amount": "100000.00"})
    account.refresh_from_db()
    assert account.needs_review and "large payout" in account.review_reason


def test_the_new_reason_joins_earlier_ones(api, create_customer, settings):
    settings.COMPLIANCE_LARGE_PAYOUT_AMOUNT = "100000.00"
    first, second = create_customer(), create_customer()
    number = make_cbu(account="0000000000777")
    for customer in (first, second):  # the same number on two customers: flagged as shared
        api.post(f"/customers/{customer['customerId']}/bank-accounts", {**DOC_BANK_ACCOUNT, "accountNumber": number})
    api.post("/payouts", {"currency": "ARS", "customerId": second["customerId"], "amount": "100000.00"})
    account = BankAccount.objects.get(customer__public_id=second["customerId"])
    assert account.review_reason == (
        "Account number also belongs to another customer of this merchant.; "
        "Details added or changed shortly before a large payout."
    )
    assert Customer.objects.filter(public_id=second["customerId"]).exists()
