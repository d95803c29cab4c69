"""Back-office pages: masked numbers, and changelists whose query count does not grow with their rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.roles import ANALYST
from compliance.tests.test_verification import page, staff_client
from customers.models import BankAccount
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT, make_cbu

CHANGELISTS = ["/admin/customers/customer/", "/admin/customers/bankaccount/", "/admin/payouts/payout/"]


def add_paid_customers(api, create_customer, count: int, offset: int) -> None:
    for i in range(offset, offset + count):
        customer = create_customer()
        account = {**DOC_BANK_ACCOUNT, "accountNumber": make_cbu(account=f"{i:013d}"), "metadata": {}}
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


@pytest.mark.django_db(transaction=True)  # the export streams outside the request's transaction
def test_csv_export_streams_the_filtered_changelist_masked():
    from customers.models import Customer
    from testsupport.api import ApiClient, make_merchant

    api = ApiClient(make_merchant("Export").test)
    analyst = staff_client("ana", ANALYST)
    add_paid_customers(
        api, lambda: api.post("/customers", {"type": "individual", "name": "E", "country": "AR"}).json(), 3, 100
    )
    rejected = Customer.objects.order_by("pk").first()
    Customer.objects.filter(pk=rejected.pk).update(verification_status="rejected")
    response = analyst.get("/admin/customers/customer/export/?verification_status__exact=rejected")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="customers.csv"'
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("customerId,merchant,livemode,type,name")
    assert [line.split(",")[0] for line in lines[1:]] == [rejected.public_id]
    accounts = b"".join(analyst.get("/admin/customers/bankaccount/export/").streaming_content).decode()
    assert len(accounts.splitlines()) == 4 and "…" in accounts
    for account in BankAccount.objects.all():
        assert account.account_number_ciphertext not in accounts
    payouts = b"".join(analyst.get("/admin/payouts/payout/export/").streaming_content).decode()
    assert len(payouts.splitlines()) == 4
    assert staff_client("nobody").get("/admin/payouts/payout/export/").status_code == 403


def test_search_finds_customers_by_cuit(api, create_customer):
    analyst = staff_client("ana", ANALYST)
    tagged = create_customer(metadata={"crm": "ZX-81"})
    other = create_customer()
    api.post(
        f"/customers/{other['customerId']}/bank-accounts",
        {
            "country": "AR",
            "currency": "ARS",
            "rail": "OTHER",
            "accountType": "savings",
            "holderName": "H",
            "accountNumber": DOC_ACCOUNT_NUMBER,
            "metadata": {"cuit": "20-22137007-5"},
        },
    )
    for typed in ("20221370075", "20-22137007-5"):
        by_cuit = page(analyst, f"/admin/customers/customer/?q={typed}")
        assert other["customerId"] in by_cuit and tagged["customerId"] not in by_cuit


def test_unpaid_customers_show_under_their_filter(api, create_customer, settings):
    from datetime import timedelta

    from django.utils import timezone

    from customers.models import Customer

    settings.COMPLIANCE_UNPAID_DAYS = 30
    analyst = staff_client("ana", ANALYST)
    add_paid_customers(api, create_customer, 3, 200)
    stale, recent, never = Customer.objects.order_by("pk")
    long_ago = timezone.now() - timedelta(days=31)
    Customer.objects.filter(pk=stale.pk).update(last_out=long_ago)
    Customer.objects.filter(pk=never.pk).update(last_out=None, created_at=long_ago)
    listed = page(analyst, "/admin/customers/customer/?unpaid=stale")
    assert stale.public_id in listed and never.public_id in listed and recent.public_id not in listed
    assert "Beneficiaries and payouts" in page(analyst, "/admin/") and "Payouts compliance" in listed


def test_payouts_filter_by_amount_range_status_and_date(api, create_customer):
    from payouts.models import Payout

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
    small, large = (
        api.post("/payouts", {"amount": amount, "currency": "ARS", "customerId": customer["customerId"]}).json()
        for amount in ("9999.99", "150000.00")  # below COMPLIANCE_UNVERIFIED_HOLD_AMOUNT: not held
    )
    since_2000 = "created_at__gte=2000-01-01+00:00:00%2B00:00"
    listed = page(analyst, f"/admin/payouts/payout/?amount=100k-1m&status__exact=pending&{since_2000}")
    assert large["payoutId"] in listed and small["payoutId"] not in listed
    assert small["payoutId"] in page(analyst, "/admin/payouts/payout/?amount=lt10k")
    assert Payout.objects.count() == 2


def test_keys_show_when_they_were_last_used_written_once_a_minute(api, merchant):
    from datetime import timedelta

    from django.apps import apps

    from merchants.models import ApiKey

    key = merchant.test_key
    assert ApiKey.objects.get(pk=key.pk).last_used_at is None
    api.get("/customers")
    first_use = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first_use is not None
    with CaptureQueriesContext(connection) as queries:
        api.get("/customers")
    assert not [q for q in queries if "UPDATE" in q["sql"]]  # within the minute: no write
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first_use - timedelta(minutes=2))
    api.get("/customers")
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first_use
    history = apps.get_model("merchants", "ApiKeyHistory")
    assert not history.objects.filter(pgh_obj_id=key.pk, pgh_label="update").exists()  # no trail noise
    text = page(staff_client("root", ANALYST), "/admin/merchants/apikey/")
    assert "Last used at" in text and key.prefix in text


def test_customers_filter_by_accounts_needing_review(api, create_customer):
    flagged, clean = create_customer(name="Flagged"), create_customer(name="Clean")
    for i, customer in enumerate((flagged, clean)):
        number = make_cbu(account=f"{i:013d}")  # two numbers: a shared one would flag both
        api.post(f"/customers/{customer['customerId']}/bank-accounts", {**DOC_BANK_ACCOUNT, "accountNumber": number})
    BankAccount.objects.filter(customer__public_id=flagged["customerId"]).update(needs_review=True)
    text = page(staff_client("ana", ANALYST), "/admin/customers/customer/?needs_review=yes")
    assert flagged["customerId"] in text and clean["customerId"] not in text


@pytest.mark.parametrize("url", [*CHANGELISTS, "/admin/customers/customerhistory/"])
def test_large_changelists_show_an_estimate_instead_of_counting_every_row(api, create_customer, url, monkeypatch):
    from compliance import admin_bases

    add_paid_customers(api, create_customer, 3, 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the statistics the estimate reads
    analyst = staff_client("ana", ANALYST)
    monkeypatch.setattr(admin_bases, "EXACT_TABLE_UP_TO", 0)  # as if the table were huge
    with CaptureQueriesContext(connection) as queries:
        response = analyst.get(url)
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert 'id="result-count">about ' in response.content.decode()
    monkeypatch.setattr(admin_bases, "EXACT_TABLE_UP_TO", 20_000)  # small: counted exactly
    with CaptureQueriesContext(connection) as queries:
        response = analyst.get(url)
    assert [q for q in queries if "COUNT(" in q["sql"].upper()]
    assert 'id="result-count">about ' not in response.content.decode()
