from django.db import models
from django.utils import timezone

from merchants.models import Merchant
from payoutsite.api.ids import new_public_id


def new_customer_id() -> str:
    return new_public_id("cust")


def now_to_the_second():
    # The API shows createdAt to the second; storing the same value keeps createdAt filters exact.
    return timezone.now().replace(microsecond=0)


class Customer(models.Model):
    """A saved payout recipient of one merchant, in one mode."""

    class Type(models.TextChoices):
        INDIVIDUAL = "individual"
        BUSINESS = "business"

    public_id = models.CharField(max_length=40, unique=True, default=new_customer_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="customers")
    livemode = models.BooleanField()
    type = models.CharField(max_length=20, choices=Type.choices)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, blank=True, default="")  # "" = none; the API shows null
    country = models.CharField(max_length=2)
    metadata = models.JSONField(default=dict, blank=True)
    last_out = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=now_to_the_second, editable=False)

    class Meta:
        indexes = [
            # The list endpoint: one tenant and mode, newest first, keyset on id.
            models.Index(fields=["merchant", "livemode", "-id"], name="customer_scope_page"),
            models.Index(fields=["merchant", "livemode", "email"], name="customer_scope_email"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(type__in=["individual", "business"]), name="customer_type_valid"),
            models.CheckConstraint(condition=~models.Q(name=""), name="customer_name_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"
