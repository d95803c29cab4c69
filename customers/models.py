from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex, GinIndex, OpClass
from django.db import models
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Upper
from django.utils import timezone

from audit.tracking import tracked
from core.crypto import decrypt
from core.ids import new_public_id
from core.scope import Scope
from merchants.models import Merchant


def new_customer_id() -> str:
    return new_public_id("cust")


def new_bank_account_id() -> str:
    return new_public_id("ba")


def now_to_the_second():
    # The API shows createdAt to the second; storing the same value keeps createdAt filters exact.
    return timezone.now().replace(microsecond=0)


# last_out is left out: it follows from each payout, which its own history records.
@tracked("CustomerHistory", exclude=["last_out"])
class Customer(models.Model):
    """A saved payout recipient of one merchant, in one mode."""

    class Type(models.TextChoices):
        INDIVIDUAL = "individual"
        BUSINESS = "business"

    class Verification(models.TextChoices):
        UNVERIFIED = "unverified"
        VERIFIED = "verified"
        REJECTED = "rejected"

    public_id = models.CharField(max_length=40, default=new_customer_id, editable=False)
    # No index of its own: the (merchant, livemode, -id) index serves every merchant lookup.
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="customers", db_index=False)
    livemode = models.BooleanField()
    type = models.CharField(max_length=20, choices=Type.choices)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, blank=True, default="")  # "" = none; the API shows null
    country = models.CharField(max_length=2)
    metadata = models.JSONField(default=dict, blank=True)
    # The merchant's own id for the customer ("" = none): unique per merchant and mode, how imports match.
    external_id = models.CharField(max_length=128, blank=True, default="")
    last_out = models.DateTimeField(null=True, blank=True, editable=False)
    # Keyed on the account's public id, so the API shows it without a join on every list page. No index:
    # no query looks customers up by their default (accounts are disabled, never deleted), and the index
    # Django adds for a foreign key (two here: btree and LIKE) cost every insert.
    default_bank_account = models.ForeignKey(
        "BankAccount",
        to_field="public_id",
        db_column="default_bank_account_public_id",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_index=False,
    )
    created_at = models.DateTimeField(default=now_to_the_second, editable=False)
    # Compliance's decision on this beneficiary (the back-office); payouts to a rejected one are refused
    # (in both modes) and its pending ones fail (payouts.stops).
    verification_status = models.CharField(max_length=12, choices=Verification.choices, default=Verification.UNVERIFIED)
    verification_reason = models.CharField(max_length=500, blank=True, default="")
    # No index: nothing looks customers up by reviewer (deleting a staff user, PROTECTed, scans instead).
    verification_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    verification_reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("verify_customer", "Can verify or reject customers")]
        indexes = [
            # The list endpoint: one tenant and mode, newest first, keyset on id.
            models.Index(fields=["merchant", "livemode", "-id"], name="customer_scope_page"),
            models.Index(fields=["merchant", "livemode", "email"], name="customer_scope_email"),
            # The back-office (customers.selectors.customers_search): a name fragment, as the admin's
            # icontains writes it (UPPER(name) LIKE UPPER('%…%')); trigrams serve a fragment anywhere.
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="customer_name_trgm"),
            # The back-office list sorted by name (its only sortable column), paged by keyset on (name, id).
            models.Index(fields=["name", "-id"], name="customer_name_sort"),
            # The back-office's date filters: created_at follows id, so a block range index is enough
            # (a few pages, next to nothing per insert).
            BrinIndex(fields=["created_at"], name="customer_created_brin"),
        ]
        constraints = [
            # A constraint rather than unique=True: no extra LIKE index on PostgreSQL, one less index per insert.
            models.UniqueConstraint(fields=["public_id"], name="customer_public_id_unique"),
            models.UniqueConstraint(
                fields=["merchant", "livemode", "external_id"],
                condition=~models.Q(external_id=""),
                name="customer_external_id_unique",
            ),
            models.CheckConstraint(condition=models.Q(type__in=["individual", "business"]), name="customer_type_valid"),
            models.CheckConstraint(condition=~models.Q(name=""), name="customer_name_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @property
    def scope(self) -> Scope:
        return Scope(merchant_id=self.merchant_id, livemode=self.livemode)


@tracked(
    "BankAccountHistory",
    exclude=["account_number_ciphertext", "account_number_fingerprint"],
)
class BankAccount(models.Model):
    """A customer's CBU/CVU. The number is kept encrypted, with a keyed fingerprint and its last four
    digits; it is never in __str__, a response, a log line or an admin list."""

    class AccountType(models.TextChoices):
        CHECKING = "checking"
        SAVINGS = "savings"

    class Kind(models.TextChoices):
        CBU = "cbu"
        CVU = "cvu"

    class Status(models.TextChoices):
        ACTIVE = "active"
        DISABLED = "disabled"

    public_id = models.CharField(max_length=40, default=new_bank_account_id, editable=False)
    # No FK indexes of their own: the composite indexes below start with these columns.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="bank_accounts", db_index=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+", db_index=False)
    livemode = models.BooleanField()
    country = models.CharField(max_length=2, default="AR")
    currency = models.CharField(max_length=3, default="ARS")
    rail = models.CharField(max_length=20, default="OTHER")
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    holder_name = models.CharField(max_length=100)
    # The number: Fernet ciphertext (core.crypto), which key made it, HMAC fingerprint, last four.
    # All "" for an account stored without a number (the API shows null).
    account_number_ciphertext = models.TextField(blank=True, default="", editable=False)
    account_number_key_id = models.CharField(max_length=16, blank=True, default="", editable=False)
    account_number_fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)
    account_number_last4 = models.CharField(max_length=4, blank=True, default="", editable=False)
    account_kind = models.CharField(max_length=3, choices=Kind.choices, blank=True, default="", editable=False)
    entity_code = models.CharField(max_length=3, blank=True, default="", editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    disabled_at = models.DateTimeField(null=True, blank=True)
    needs_review = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=200, blank=True, default="")
    # When needs_review last became true (NULL while it is false): the review queue's age and order. The
    # database's to set, whatever writes the flag: a trigger (customers.review.FLAGGED_AT_INSTALL).
    flagged_at = models.DateTimeField(null=True, blank=True, editable=False)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now_to_the_second, editable=False)
    # When the number or the holder was last set: a large payout soon after is flagged for review.
    details_changed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        permissions = [("reveal_account_number", "Can reveal a full account number (recorded in the audit trail)")]
        indexes = [
            models.Index(fields=["customer", "-id"], name="bank_account_customer_page"),
            models.Index(
                fields=["merchant", "livemode", "account_number_fingerprint"], name="bank_account_fingerprint"
            ),
            # The back-office's searches (customers.selectors): by last four digits, by CUIT or CUIL.
            models.Index(fields=["account_number_last4"], name="bank_account_last4"),
            models.Index(
                KeyTransform("cuit", "metadata"), name="bank_account_cuit", condition=models.Q(metadata__has_key="cuit")
            ),
            models.Index(
                KeyTransform("cuil", "metadata"), name="bank_account_cuil", condition=models.Q(metadata__has_key="cuil")
            ),
            # The back-office's "needs review" filters (accounts, and customers with such an account): the
            # flagged accounts are few, so this index is small.
            models.Index(
                fields=["-id"],
                include=["customer"],
                name="bank_account_needs_review",
                condition=models.Q(needs_review=True),
            ),
            # The review queue (compliance.queue): flagged accounts by when they were flagged, keyset pages.
            models.Index(
                fields=["flagged_at", "id"], name="bank_account_review_queue", condition=models.Q(needs_review=True)
            ),
            BrinIndex(fields=["created_at"], name="bank_account_created_brin"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="bank_account_public_id_unique"),
            # One active account per number per customer; a disabled one may be added again.
            models.UniqueConstraint(
                fields=["customer", "account_number_fingerprint"],
                condition=models.Q(status="active") & ~models.Q(account_number_fingerprint=""),
                name="bank_account_number_unique_per_customer",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "disabled"]), name="bank_account_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(account_type__in=["checking", "savings"]), name="bank_account_type_valid"
            ),
            # A flagged account has the time it was flagged, an unflagged one none (the trigger keeps it so;
            # this says so where a write with triggers off, a replica's, could break it).
            models.CheckConstraint(
                condition=models.Q(needs_review=True, flagged_at__isnull=False)
                | models.Q(needs_review=False, flagged_at__isnull=True),
                name="bank_account_flagged_at_with_flag",
            ),
            models.CheckConstraint(
                condition=models.Q(account_number_ciphertext="", account_number_fingerprint="", account_number_last4="")
                | (~models.Q(account_number_ciphertext="") & ~models.Q(account_number_fingerprint="")),
                name="bank_account_number_complete",
            ),
        ]

    def __str__(self) -> str:
        last4 = self.account_number_last4 or "none"
        return f"{self.public_id} (…{last4})"

    @property
    def scope(self) -> Scope:
        return Scope(merchant_id=self.merchant_id, livemode=self.livemode)

    @property
    def can_receive_payouts(self) -> bool:
        return self.status == self.Status.ACTIVE and self.account_number_ciphertext != ""

    def account_number(self) -> str | None:
        """The full number, decrypted on demand (for the payout rail only). Raises DecryptionError."""
        return decrypt(self.account_number_ciphertext) if self.account_number_ciphertext else None
