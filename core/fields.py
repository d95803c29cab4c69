from django.db import models


class PublicIdForeignKey(models.ForeignKey):
    """A foreign key on the target's public id (to_field="public_id"). Its attribute and column are
    `<name>_public_id`, never `<name>_id`, so nobody mistakes it for an integer key:
    payout.customer_public_id == "cust_…", while bank_account.customer_id is the customer's pk."""

    def __init__(self, to, **kwargs):
        kwargs.setdefault("to_field", "public_id")
        super().__init__(to, **kwargs)

    def get_attname(self) -> str:
        return f"{self.name}_public_id"
