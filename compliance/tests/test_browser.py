"""The back-office in a real browser (Playwright driving Debian's Chromium) against a live server: an
analyst's day and a compliance admin's reveal, as they click through them."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from compliance.roles import ADMIN, ANALYST
from customers.models import BankAccount
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-long-enough-123"
CUIT = DOC_BANK_ACCOUNT["metadata"]["cuit"]


def log_in(page: Page, username: str, group: str) -> None:
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#site-name")).to_be_visible()


@pytest.fixture
def beneficiary(api, create_customer) -> BankAccount:
    customer = create_customer(name="Gerardo Ratto")
    api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    return BankAccount.objects.select_related("customer").get(customer__public_id=customer["customerId"])


def test_an_analyst_finds_a_customer_by_cuit_verifies_it_and_cannot_reveal(browser_page: Page, beneficiary):
    page = browser_page
    log_in(page, "ana", ANALYST)
    page.goto("/admin/customers/customer/")
    page.locator("#searchbar").fill(CUIT)
    page.locator("#changelist-search").get_by_role("button", name="Search").click()
    page.get_by_role("link", name=beneficiary.customer.public_id).click()

    expect(page.locator("#verification-form h2")).to_have_text("Verification: Unverified")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".messagelist")).to_contain_text("1 customer(s) verified")
    entry = page.locator("#audit-history tr.audit-entry", has_text="unverified → verified")
    expect(entry).to_contain_text("staff:ana")
    expect(entry).to_contain_text("unverified → verified")

    page.goto(f"/admin/customers/bankaccount/{beneficiary.pk}/change/")
    expect(page.locator("#content")).to_contain_text("…1644")
    expect(page.get_by_text("Reveal full number")).to_have_count(0)
    refused = page.goto(f"/admin/customers/bankaccount/{beneficiary.pk}/reveal/")
    assert refused.status == 403
    expect(page.locator("body")).not_to_contain_text(DOC_ACCOUNT_NUMBER)


def test_a_compliance_admin_reveals_a_number_and_sees_it_in_the_trail(browser_page: Page, beneficiary):
    page = browser_page
    log_in(page, "root", ADMIN)
    page.goto(f"/admin/customers/bankaccount/{beneficiary.pk}/change/")
    expect(page.locator("body")).not_to_contain_text(DOC_ACCOUNT_NUMBER)
    page.get_by_role("link", name=re.compile("Reveal full number")).click()
    page.get_by_role("button", name="Reveal").click()
    expect(page.locator("#revealed-number")).to_have_text(DOC_ACCOUNT_NUMBER)

    page.goto("/admin/customers/bankaccounthistory/?pgh_label__exact=reveal")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(beneficiary.public_id)
    expect(row).to_contain_text("staff:root")
    expect(page.locator("body")).not_to_contain_text(DOC_ACCOUNT_NUMBER)
