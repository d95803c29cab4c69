"""Customer input (shape checks) and output (the doc's response fields, camelCase only here)."""

from typing import Any

from django.core.validators import EmailValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.countries import COUNTRY_CODES
from customers.models import Customer
from payoutsite.api.serializers import MetadataField, StrictCharField, StrictInputSerializer

CUSTOMER_READ_ONLY = ("customerId", "livemode", "createdAt", "last_out", "defaultBankAccountId")


def validate_country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise serializers.ValidationError(
            f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'AR').", code="invalid_country"
        )
    return value


def validate_email(value: str) -> str:
    try:
        EmailValidator()(value)
    except Exception:
        raise serializers.ValidationError(f"{value!r} is not a valid email address.", code="invalid_email") from None
    return value


@extend_schema_field({"type": "string", "enum": sorted(COUNTRY_CODES)})
class CountryField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(validators=[validate_country], **kwargs)


@extend_schema_field({"type": "string", "format": "email", "maxLength": 254})
class EmailField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=254, validators=[validate_email], **kwargs)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^\u0000]*\S[^\u0000]*$"})
class NameField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=200, trim_whitespace=True, **kwargs)


class CustomerCreateInput(StrictInputSerializer):
    read_only_params = CUSTOMER_READ_ONLY

    type = serializers.ChoiceField(choices=Customer.Type.choices)
    name = NameField()
    country = CountryField()
    email = EmailField(required=False, allow_null=True)
    metadata = MetadataField(required=False)


class CustomerUpdateInput(StrictInputSerializer):
    read_only_params = (*CUSTOMER_READ_ONLY, "type", "country")

    name = NameField(required=False)
    email = EmailField(required=False, allow_null=True)
    metadata = MetadataField(required=False, allow_unset=True)


class CustomerOutput(serializers.Serializer):
    """Documents the response; rendering goes through customer_representation (no per-field overhead)."""

    customerId = serializers.CharField()
    type = serializers.ChoiceField(choices=Customer.Type.choices)
    name = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    country = serializers.CharField()
    defaultBankAccountId = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    createdAt = serializers.DateTimeField()
    last_out = serializers.DateTimeField(allow_null=True)
    livemode = serializers.BooleanField()


class CustomerListOutput(serializers.Serializer):
    data = CustomerOutput(many=True)
    hasMore = serializers.BooleanField()


CUSTOMER_FIELDS = ("public_id", "type", "name", "email", "country", "metadata", "created_at", "last_out", "livemode")


def iso_utc(value) -> str | None:
    """2026-02-25T12:00:00Z, as the doc shows. Values are stored in UTC, to the second."""
    if value is None:
        return None
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def customer_representation(row: dict[str, Any]) -> dict[str, Any]:
    """The API shape of one customer, from a dict of CUSTOMER_FIELDS (a .values() row)."""
    return {
        "customerId": row["public_id"],
        "type": row["type"],
        "name": row["name"],
        "email": row["email"] or None,
        "country": row["country"],
        "defaultBankAccountId": None,
        "metadata": row["metadata"],
        "createdAt": iso_utc(row["created_at"]),
        "last_out": iso_utc(row["last_out"]),
        "livemode": row["livemode"],
    }


def customer_to_dict(customer: Customer) -> dict[str, Any]:
    return customer_representation({field: getattr(customer, field) for field in CUSTOMER_FIELDS})
