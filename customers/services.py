from typing import Any

from django.db import transaction

from customers.models import Customer
from merchants.models import Scope
from payoutsite.api.errors import InvalidParameters
from payoutsite.api.serializers import METADATA_MAX_KEYS

UNSET: Any = object()


def customer_create(
    *,
    scope: Scope,
    type: str,
    name: str,
    country: str,
    email: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Customer:
    return Customer.objects.create(
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        type=type,
        name=name,
        country=country,
        email=email or "",
        metadata=metadata or {},
    )


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


@transaction.atomic
def customer_update(
    *,
    customer: Customer,
    name: str = UNSET,
    email: str | None = UNSET,
    metadata: dict[str, str | None] = UNSET,
) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changed = []
    if name is not UNSET:
        customer.name = name
        changed.append("name")
    if email is not UNSET:
        customer.email = email or ""
        changed.append("email")
    if metadata is not UNSET:
        customer.metadata = merge_metadata(customer.metadata, metadata)
        changed.append("metadata")
    if changed:
        customer.save(update_fields=changed)
    return customer
