"""Back-office pages: masked numbers, and changelists whose query count does not grow with their rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.roles import ANALYST
from compliance.tests.test_verification import staff_client
from customers.models import BankAccount
from customers.tests.factories import DOC_ACCOUNT_NUMBER, make_cbu

CHANGELISTS = ["/admin/customers/customer/", "/admin/customers/bankaccount/", "/admin/payouts/payout/"]


def add_paid_customers(api, create_customer, count: int, offset: int) -> None:
    for i in range(offset, offset + count):
        customer = create_customer()
        account = {
            "country": "AR",
            "currency": "ARS",
            "rail": "OTHER",
            "accountType": "savings",
            "holderName": "H",
            "accountNumber": make_cbu(account=f"{i:013d}"),
        }
        api.post(f"/customers/{customer['customerId']}/bank-accounts", account)
        api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": customer["customerId"]})


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", CHANGELISTS)
def test_changelists_cost_the_same_queries_for_3_or_12_rows(api, create_customer, url):
    analyst = staff_client("ana", ANALYST)
    add_paid_customers(api, create_customer, 3, 0)
    few = queries_for(analyst, url)
    add_paid_customers(api, create_customer, 9, 3)
    assert queries_for(analyst, url) == few


def test_no_page_shows_a_full_account_number(api, create_customer):
    analyst = staff_client("ana", ANALYST)
    customer = create_customer()
    api.post(
        f"/customers/{customer['customerId']}/bank-accounts",
        {
            "country": "AR",
            "currency": "ARS",
            "rail": "OTHER",
            "accountType": "savings",
            "holderName": "H",
            "accountNumber": DOC_ACCOUNT_NUMBER,
        },
    )
    payout = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": customer["customerId"]}).json()
    account = BankAccount.objects.get()
    from payouts.models import Payout

    urls = [
        *CHANGELISTS,
        f"/admin/customers/customer/{account.customer_id}/change/",
        f"/admin/customers/bankaccount/{account.pk}/change/",
        f"/admin/payouts/payout/{Payout.objects.get(public_id=payout['payoutId']).pk}/change/",
    ]
    for url in urls:
        html = analyst.get(url).content.decode()
        assert "…1644" in html or url == "/admin/customers/customer/", url
        assert DOC_ACCOUNT_NUMBER not in html and account.account_number_ciphertext not in html, url
