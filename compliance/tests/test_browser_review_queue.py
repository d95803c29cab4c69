"""The review queue in a real browser (Playwright driving Debian's Chromium) against a live server: an
analyst approves a held payout, rejects one with a reason, and two analysts give a large one its four eyes."""

import pytest
from playwright.sync_api import Page, expect

from compliance.roles import ANALYST
from compliance.tests.test_browser import log_in
from testsupport.compliance import quiet_hold_rules

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def thresholds(settings):
    quiet_hold_rules(settings, COMPLIANCE_HOLD_AMOUNT="1000.00", COMPLIANCE_FOUR_EYES_AMOUNT="5000.00")


def held_payout(api, payee, amount: str) -> dict:
    body = api.post("/payouts", {"amount": amount, "currency": "ARS", "customerId": payee["customerId"]}).json()
    assert body["status"] == "held", body
    return body


def open_from_the_queue(page: Page, payout_id: str) -> None:
    page.goto("/admin/")
    page.get_by_role("link", name="Review queue").click()
    row = page.locator("#review-queue tr.queue-item", has_text=payout_id)
    expect(row).to_contain_text("amount_over_threshold")
    row.get_by_role("link", name=payout_id).click()
    expect(page.locator("#review-subject h2")).to_contain_text(payout_id)


def test_an_analyst_takes_and_approves_a_held_payout(browser_page: Page, api, payee):
    payout = held_payout(api, payee, "2000.00")
    page = browser_page
    log_in(page, "ana", ANALYST)
    open_from_the_queue(page, payout["payoutId"])
    expect(page.locator("#recent-changes")).to_contain_text("bank account")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator("#assignee")).to_contain_text("ana since")
    page.get_by_label("Reason (needed to reject or clear):").fill("Invoice checked with the merchant")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messagelist")).to_contain_text("Payout approved: it is pending and will be paid.")
    expect(page.locator("#subject-status")).to_have_text("pending")
    assert api.get(f"/payouts/{payout['payoutId']}").json()["status"] == "pending"
    page.locator(".breadcrumbs").get_by_role("link", name="Review queue").click()
    expect(page.locator("#review-queue")).not_to_contain_text(payout["payoutId"])


def test_an_analyst_rejects_a_held_payout_with_a_reason(browser_page: Page, api, payee):
    payout = held_payout(api, payee, "2000.00")
    page = browser_page
    log_in(page, "ana", ANALYST)
    open_from_the_queue(page, payout["payoutId"])
    page.get_by_role("button", name="Reject").click()
    expect(page.locator(".messagelist")).to_contain_text("A rejection needs a reason.")
    expect(page.locator("#subject-status")).to_have_text("held")
    page.get_by_label("Reason (needed to reject or clear):").fill("Beneficiary does not match the invoice")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator(".messagelist")).to_contain_text("Payout rejected.")
    expect(page.locator("#subject-status")).to_have_text("failed (compliance_rejected)")
    body = api.get(f"/payouts/{payout['payoutId']}").json()
    assert (body["status"], body["failureCode"]) == ("failed", "compliance_rejected")


def test_two_analysts_approve_a_large_payout_the_first_cannot_twice(
    browser_page: Page, chromium, live_server, api, payee
):
    payout = held_payout(api, payee, "6000.00")
    page = browser_page
    log_in(page, "ana", ANALYST)
    open_from_the_queue(page, payout["payoutId"])
    expect(page.locator("#subject-approvals")).to_contain_text("none — needs two different analysts")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messagelist")).to_contain_text("First approval recorded: a second analyst must approve it.")
    expect(page.locator("#subject-approvals")).to_contain_text("ana (")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "You already approved this payout: a second, different analyst must approve it."
    )
    expect(page.locator("#subject-status")).to_have_text("held")

    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    second = context.new_page()
    try:
        log_in(second, "bruno", ANALYST)
        open_from_the_queue(second, payout["payoutId"])
        second.get_by_role("button", name="Approve").click()
        expect(second.locator(".messagelist")).to_contain_text("Payout approved")
        expect(second.locator("#subject-status")).to_have_text("pending")
        expect(second.locator("#subject-approvals")).to_contain_text("ana (")
        expect(second.locator("#subject-approvals")).to_contain_text("bruno (")
    finally:
        context.close()
    assert api.get(f"/payouts/{payout['payoutId']}").json()["status"] == "pending"
