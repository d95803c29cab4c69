from django.db import models
from django.utils import timezone

from audit.tracking import tracked
from core.ids import new_public_id
from core.scope import Scope


def new_merchant_id() -> str:
    return new_public_id("mer")


def new_api_key_id() -> str:
    return new_public_id("key")


@tracked("MerchantHistory")
class Merchant(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=new_merchant_id, editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # This merchant's own hold threshold (payouts.holds); empty: COMPLIANCE_HOLD_AMOUNT. Set by a compliance admin.
    compliance_hold_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Payouts at or above this amount (ARS) are held for review. Empty: the platform's default.",
    )

    class Meta:
        constraints = [
            # 0 would read as "no threshold" (the default's), a negative one would hold everything. The upper
            # bound (COMPLIANCE_FOUR_EYES_AMOUNT) is a setting, so merchants.admin checks it, not the database.
            models.CheckConstraint(
                condition=models.Q(compliance_hold_amount__gt=0),
                name="merchant_compliance_hold_amount_positive",
                violation_error_message="The hold threshold must be more than 0.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"


@tracked("ApiKeyHistory", exclude=["key_hash", "last_used_at"])
class ApiKey(models.Model):
    """A secret key. Only its SHA-256 and a short display prefix are kept; the key is shown once."""

    public_id = models.CharField(max_length=40, unique=True, default=new_api_key_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="api_keys")
    livemode = models.BooleanField()
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=20, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # To the minute (merchants.services.api_key_mark_used); not in the audit trail, which it would flood.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    rolled_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.public_id})"

    @property
    def scope(self) -> Scope:
        return Scope(merchant_id=self.merchant_id, livemode=self.livemode)

    @property
    def mode(self) -> str:
        return "live" if self.livemode else "test"

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)
