"""Compliance roles and customer verification in the back-office, and what a rejection does to payouts."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from compliance.roles import ADMIN, ANALYST
from customers.models import Customer
from customers.tests.factories import DOC_BANK_ACCOUNT
from merchants.models import ApiKey

CHANGELIST = "/admin/customers/customer/"


def staff_client(username: str, group: str | None = None) -> Client:
    user = get_user_model().objects.create_user(username, password="pw-long-enough-123", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def analyst(db) -> Client:
    return staff_client("ana", ANALYST)


@pytest.fixture
def paid_customer(api, create_customer) -> dict:
    customer = create_customer()
    api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    return customer


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_staff_without_a_role_see_nothing(db, create_customer):
    create_customer()
    nobody = staff_client("nobody")
    assert nobody.get(CHANGELIST).status_code == 403
    assert "have permission to view or edit anything" in page(nobody, "/admin/")


def test_an_analyst_sees_everything_and_changes_nothing(analyst, paid_customer):
    customer = Customer.objects.get(public_id=paid_customer["customerId"])
    for url in (CHANGELIST, "/admin/customers/bankaccount/", "/admin/payouts/payout/", "/admin/merchants/apikey/"):
        assert analyst.get(url).status_code == 200, url
    detail = page(analyst, f"{CHANGELIST}{customer.pk}/change/")
    assert "…1644" in detail and 'name="_save"' not in detail  # masked accounts; nothing to save
    assert analyst.post(f"{CHANGELIST}{customer.pk}/delete/").status_code == 403


def test_an_analyst_verifies_from_the_customer_page(analyst, paid_customer):
    customer = Customer.objects.get(public_id=paid_customer["customerId"])
    url = f"{CHANGELIST}{customer.pk}/verification/"
    assert "Verification: Unverified" in page(analyst, f"{CHANGELIST}{customer.pk}/change/")
    response = analyst.post(url, {"decision": "verify"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.verification_status, customer.verification_reviewer) == ("verified", analyst.user)
    assert customer.verification_reviewed_at is not None


def test_a_rejection_needs_a_reason(analyst, paid_customer):
    customer = Customer.objects.get(public_id=paid_customer["customerId"])
    url = f"{CHANGELIST}{customer.pk}/verification/"
    response = analyst.post(url, {"decision": "reject", "reason": "  "}, follow=True)
    assert "A rejection needs a reason." in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).verification_status == "unverified"
    analyst.post(url, {"decision": "reject", "reason": "Sanctions list match"})
    customer.refresh_from_db()
    assert (customer.verification_status, customer.verification_reason) == ("rejected", "Sanctions list match")


def test_bulk_verify_and_bulk_reject_with_a_reason(analyst, create_customer):
    pks = [Customer.objects.get(public_id=create_customer()["customerId"]).pk for _ in range(3)]
    analyst.post(CHANGELIST, {"action": "verify_selected", "_selected_action": pks[:2]})
    assert list(Customer.objects.filter(pk__in=pks).order_by("pk").values_list("verification_status", flat=True)) == [
        "verified",
        "verified",
        "unverified",
    ]
    asked = analyst.post(CHANGELIST, {"action": "reject_selected", "_selected_action": pks})
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()  # the reason's own page
    assert not Customer.objects.filter(verification_status="rejected").exists()
    analyst.post(
        CHANGELIST, {"action": "reject_selected", "_selected_action": pks, "apply": "1", "reason": "Duplicate identity"}
    )
    assert set(Customer.objects.filter(pk__in=pks).values_list("verification_status", "verification_reason")) == {
        ("rejected", "Duplicate identity")
    }


def test_only_compliance_admins_manage_keys(analyst, merchant):
    key = ApiKey.objects.filter(merchant=merchant.merchant).first()
    form = {"action": "revoke_keys", "_selected_action": [key.pk]}
    analyst.post("/admin/merchants/apikey/", form)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    admin = staff_client("boss", ADMIN)
    admin.post("/admin/merchants/apikey/", form)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


@pytest.mark.parametrize("form", ["default", "bankAccountId"])
def test_a_rejected_customer_cannot_receive_live_payouts(
    analyst, live_api, create_customer, form, live_payouts_enabled
):
    customer = create_customer(client=live_api)
    account = live_api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    stored = Customer.objects.get(public_id=customer["customerId"])
    analyst.post(f"{CHANGELIST}{stored.pk}/verification/", {"decision": "reject", "reason": "Fraud"})
    body = {"amount": "10.00", "currency": "ARS", "customerId": customer["customerId"]}
    if form == "bankAccountId":
        body["bankAccountId"] = account["bankAccountId"]
    response = live_api.post("/payouts", body)
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0] == {
        "param": "customerId",
        "code": "customer_rejected",
        "message": "This customer was rejected by compliance review: it cannot be paid.",
    }


def test_a_rejection_applies_in_test_mode_as_in_live(analyst, api, paid_customer):
    stored = Customer.objects.get(public_id=paid_customer["customerId"])
    analyst.post(f"{CHANGELIST}{stored.pk}/verification/", {"decision": "reject", "reason": "Fraud"})
    response = api.post("/payouts", {"amount": "10.00", "currency": "ARS", "customerId": paid_customer["customerId"]})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["errors"] == [
        {
            "param": "customerId",
            "code": "customer_rejected",
            "message": "This customer was rejected by compliance review: it cannot be paid.",
        }
    ]
