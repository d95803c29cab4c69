import pytest

from customers.tests.factories import DOC_BANK_ACCOUNT


@pytest.fixture
def payee(api, create_customer) -> dict:
    """The doc's customer with the doc's bank account (its default)."""
    customer = create_customer()
    account = api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    return {**customer, "account": account}
