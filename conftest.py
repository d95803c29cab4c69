"""Shared fixtures: merchants with real keys, and an HTTP client that speaks the API (testsupport/api.py)."""

import pytest
from django.test import Client

from testsupport.api import DOC_CUSTOMER, ApiClient, MerchantKeys, make_merchant


@pytest.fixture
def staff(db) -> Client:
    """A logged-in superuser of the back-office."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("auditor", "auditor@example.com", "pw-long-enough-123")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def merchant(db) -> MerchantKeys:
    return make_merchant("Acme")


@pytest.fixture
def other_merchant(db) -> MerchantKeys:
    return make_merchant("Other")


@pytest.fixture
def api(merchant) -> ApiClient:
    """Authenticated with the merchant's test key."""
    return ApiClient(merchant.test)


@pytest.fixture
def live_api(merchant) -> ApiClient:
    return ApiClient(merchant.live)


@pytest.fixture
def live_payouts_enabled(settings) -> None:
    """PAYOUT_LIVE_ENABLED on (off by default): live payouts are accepted, and wait for a bank rail."""
    settings.PAYOUT_LIVE_ENABLED = True


@pytest.fixture
def other_api(other_merchant) -> ApiClient:
    return ApiClient(other_merchant.test)


@pytest.fixture
def anon() -> ApiClient:
    return ApiClient(None)


@pytest.fixture
def create_customer(api):
    def create(client: ApiClient | None = None, **fields) -> dict:
        response = (client or api).post("/customers", {**DOC_CUSTOMER, **fields})
        assert response.status_code == 201, response.content
        return response.json()

    return create


@pytest.fixture
def payee(api, create_customer) -> dict:
    """The doc's customer with the doc's bank account (its default)."""
    from customers.tests.factories import DOC_BANK_ACCOUNT

    customer = create_customer()
    account = api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    return {**customer, "account": account}
