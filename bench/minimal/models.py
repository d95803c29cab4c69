"""The same columns as customers_customer and payouts_payout (types, lengths, nullability), and nothing
else: no foreign keys, no indexes but the primary key, no constraints, no triggers."""

from django.db import models


class Customer(models.Model):
    public_id = models.CharField(max_length=40)
    merchant_id = models.BigIntegerField()
    livemode = models.BooleanField()
    type = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254, default="")
    country = models.CharField(max_length=2)
    metadata = models.JSONField(default=dict)
    external_id = models.CharField(max_length=128, default="")
    last_out = models.DateTimeField(null=True)
    default_bank_account_public_id = models.CharField(max_length=40, null=True)  # noqa: DJ001 (as the project)
    created_at = models.DateTimeField()
    verification_status = models.CharField(max_length=12, default="unverified")
    verification_reason = models.CharField(max_length=500, default="")
    verification_reviewer_id = models.IntegerField(null=True)
    verification_reviewed_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "minimal_customer"

    def __str__(self) -> str:
        return self.public_id


class Payout(models.Model):
    public_id = models.CharField(max_length=40)
    merchant_id = models.BigIntegerField()
    livemode = models.BooleanField()
    customer_public_id = models.CharField(max_length=40, null=True)  # noqa: DJ001 (as the project)
    bank_account_public_id = models.CharField(max_length=40, null=True)  # noqa: DJ001 (as the project)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="ARS")
    destination_ciphertext = models.TextField()
    destination_key_id = models.CharField(max_length=16)
    destination_fingerprint = models.CharField(max_length=64)
    destination_last4 = models.CharField(max_length=4)
    description = models.CharField(max_length=500, default="")
    metadata = models.JSONField(default=dict)
    status = models.CharField(max_length=12, default="pending")
    failure_code = models.CharField(max_length=40, default="")
    failure_message = models.CharField(max_length=500, default="")
    processing_started_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "minimal_payout"

    def __str__(self) -> str:
        return self.public_id
