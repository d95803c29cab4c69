"""Customers: create, change (name, email, externalId, metadata, default account), compliance's verdict."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import db
from core.errors import Conflict, InvalidParameters
from core.ids import is_public_id
from core.metadata import METADATA_MAX_KEYS
from core.scope import Scope
from customers import signals
from customers.models import BankAccount, Customer
from customers.representations import customer_to_dict
from customers.selectors import customers_in_scope
from events.services import changed, event_record

UNSET: Any = object()


class CustomerExternalIdExists(Conflict):
    code = "customer_external_id_exists"


def customer_create(
    *,
    scope: Scope,
    type: str,
    name: str,
    country: str,
    email: str | None = None,
    external_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Customer:
    """A new customer. externalId is unique per merchant and mode: a taken one is a 409 naming its
    customer (two creates racing for one are decided by the unique index: see core.db)."""
    if external_id is not None:
        _refuse_taken_external_id(scope, external_id)
    customer = Customer(
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        type=type,
        name=name,
        country=country,
        email=email or "",
        external_id=external_id or "",
        metadata=metadata or {},
    )
    db.insert(customer)  # in the API, with the request's other writes (core.db)
    event_record(scope=scope, type="customer.created", obj=customer_to_dict(customer))
    return customer


def _refuse_taken_external_id(scope: Scope, external_id: str, *, other_than: int | None = None) -> None:
    taken = (
        customers_in_scope(scope=scope)
        .filter(external_id=external_id)
        .exclude(pk=other_than)
        .values_list("public_id", flat=True)[:1]
    )
    for customer_id in taken:
        raise CustomerExternalIdExists(
            f"Another customer already has this externalId: {customer_id}.",
            param="externalId",
            extra={"customerId": customer_id},
        )


@transaction.atomic
def customer_verification_set(*, customer: Customer, status: str, reviewer, reason: str = "") -> Customer:
    """Compliance's decision on a customer: verified, or rejected (with a reason), by a reviewer, now.
    A rejected customer can no longer be paid, and its pending payouts fail in this transaction
    (signals.customer_rejected; the rule is payouts.stops)."""
    reason = reason.strip()
    if status == Customer.Verification.REJECTED and not reason:
        raise InvalidParameters.single("reason", "parameter_missing", "A rejection needs a reason.")
    if len(reason) > (longest := Customer._meta.get_field("verification_reason").max_length):
        raise InvalidParameters.single("reason", "reason_too_long", f"The reason may be at most {longest} characters.")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer.verification_status = status
    customer.verification_reason = reason
    customer.verification_reviewer = reviewer
    customer.verification_reviewed_at = timezone.now()
    customer.save(
        update_fields=[
            "verification_status",
            "verification_reason",
            "verification_reviewer",
            "verification_reviewed_at",
        ]
    )
    if status == Customer.Verification.REJECTED:
        signals.customer_rejected.send(sender=Customer, customer=customer)
    return customer


def merge_metadata(current: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """Stripe's rule: PATCHed keys are set, keys PATCHed to null are removed, the rest stay."""
    merged = {**current, **{key: value for key, value in changes.items() if value is not None}}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
    if len(merged) > METADATA_MAX_KEYS:
        raise InvalidParameters.single(
            "metadata", "metadata_too_many_keys", f"metadata may have at most {METADATA_MAX_KEYS} keys."
        )
    return merged


@transaction.atomic(savepoint=False)
def customer_update(
    *,
    customer: Customer,
    name: str = UNSET,
    email: str | None = UNSET,
    external_id: str | None = UNSET,
    metadata: dict[str, str | None] = UNSET,
    default_bank_account_id: str | None = UNSET,
) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = customer_to_dict(customer)
    changed_fields = []
    if external_id is not UNSET:
        if external_id is not None:
            _refuse_taken_external_id(customer.scope, external_id, other_than=customer.pk)
        customer.external_id = external_id or ""
        changed_fields.append("external_id")
    if name is not UNSET:
        customer.name = name
        changed_fields.append("name")
    if email is not UNSET:
        customer.email = email or ""
        changed_fields.append("email")
    if metadata is not UNSET:
        customer.metadata = merge_metadata(customer.metadata, metadata)
        changed_fields.append("metadata")
    if default_bank_account_id is not UNSET:
        customer.default_bank_account = _default_candidate(customer, default_bank_account_id)
        changed_fields.append("default_bank_account")
    if changed_fields:
        _save_customer(customer, changed_fields)
        customer_record_change(customer, before)
    return customer


def customer_record_change(
    customer: Customer, before: dict[str, Any], only_if: tuple[str, tuple] | None = None
) -> None:
    """customer.updated, when what the API shows of the customer changed (only_if: see event_record)."""
    after = customer_to_dict(customer)
    if previous := changed(before, after):
        event_record(scope=customer.scope, type="customer.updated", obj=after, previous=previous, only_if=only_if)


def _save_customer(customer: Customer, changed: list[str]) -> None:
    if "external_id" not in changed or not customer.external_id:
        customer.save(update_fields=changed)
        return
    try:
        with transaction.atomic():  # a savepoint: a lost race for the externalId still gets its 409
            customer.save(update_fields=changed)
    except IntegrityError:
        _refuse_taken_external_id(customer.scope, customer.external_id, other_than=customer.pk)
        raise


def _default_candidate(customer: Customer, bank_account_id: str | None) -> BankAccount | None:
    if bank_account_id is None:
        return None
    account = None
    if is_public_id(bank_account_id, "ba"):
        account = customer.bank_accounts.filter(public_id=bank_account_id).first()
    if account is None or not account.can_receive_payouts:
        raise InvalidParameters.single(
            "defaultBankAccountId",
            "invalid_default_bank_account",
            "defaultBankAccountId must be one of this customer's active bank accounts with an account number.",
        )
    return account
