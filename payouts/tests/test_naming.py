"""Payout keys its customer and account by public id, and says so: customer_public_id, not customer_id."""

from payouts.models import Payout


def test_a_foreign_key_on_a_public_id_is_named_for_what_it_holds(api, payee):
    payout = api.post("/payouts", {"amount": "1.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    stored = Payout.objects.get(public_id=payout["payoutId"])
    assert (stored.customer_public_id, stored.bank_account_public_id) == (
        payee["customerId"],
        payee["account"]["bankAccountId"],
    )
    assert not hasattr(stored, "customer_id") and not hasattr(stored, "bank_account_id")
    assert stored.customer.public_id == payee["customerId"]  # the relation itself is unchanged
