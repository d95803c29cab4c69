from customers.models import BankAccount
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT


def test_bank_account_admin_shows_last4_and_flag_never_the_number(staff, api, create_customer):
    customer = create_customer()
    account = api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT).json()
    stored = BankAccount.objects.get()
    pages = [
        staff.get("/admin/customers/bankaccount/").content.decode(),
        staff.get(f"/admin/customers/bankaccount/{stored.pk}/change/").content.decode(),
        staff.get(f"/admin/customers/customer/{stored.customer_id}/change/").content.decode(),
    ]
    assert account["bankAccountId"] in pages[0] and "…1644" in pages[0]
    assert "Banco de Galicia" in pages[1]
    for page in pages:
        assert DOC_ACCOUNT_NUMBER not in page
        assert stored.account_number_ciphertext not in page
        assert stored.account_number_fingerprint not in page
