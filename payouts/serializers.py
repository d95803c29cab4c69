"""Payout input (shape checks) and output (camelCase only here)."""

import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.schema import SCHEMA_EXTRAS
from api.serializers import MetadataField, PublicIdField, StrictCharField, StrictInputSerializer
from customers.serializers import AccountNumberField, SupportedValueField
from payouts import holds
from payouts.models import Payout

AMOUNT_PATTERN = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([1-9][0-9]{0,11}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$",
        "example": "5000.00",
        "description": "A decimal string with at most two decimals, greater than zero and at most the "
        "per-payout maximum (PAYOUT_MAX_AMOUNT). A JSON number is rejected: floats lose cents.",
    }
)
class AmountField(serializers.Field):
    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str):
            raise serializers.ValidationError(
                'amount must be a string such as "5000.00", not a JSON number.', code="amount_not_a_string"
            )
        if not AMOUNT_PATTERN.fullmatch(data):
            raise serializers.ValidationError(
                'amount must be a decimal with at most two decimals, such as "5000.00".', code="amount_invalid"
            )
        amount = Decimal(data)
        if amount <= 0:
            raise serializers.ValidationError("amount must be greater than zero.", code="amount_too_small")
        maximum = Decimal(settings.PAYOUT_MAX_AMOUNT)
        if amount > maximum:
            raise serializers.ValidationError(
                f"amount may be at most {maximum:.2f} per payout.", code="amount_too_large"
            )
        return amount

    def to_representation(self, value: Decimal) -> str:
        return f"{value:.2f}"


PAYOUT_READ_ONLY = (
    "payoutId",
    "status",
    "destinationLast4",
    "failureCode",
    "failureMessage",
    "holdReasons",
    "createdAt",
    "livemode",
)


class PayoutCreateInput(StrictInputSerializer):
    read_only_params = PAYOUT_READ_ONLY

    amount = AmountField()
    currency = SupportedValueField("ARS", code="unsupported_currency")
    customerId = PublicIdField("cust", source="customer_public_id", required=False)
    bankAccountId = PublicIdField("ba", source="bank_account_public_id", required=False)
    destinationCbu = AccountNumberField(source="destination", required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=500, trim_whitespace=False)
    metadata = MetadataField(required=False)


SCHEMA_EXTRAS["PayoutCreateInputRequest"] = {
    "allOf": [
        {"anyOf": [{"required": ["customerId"]}, {"required": ["destinationCbu"]}]},
        {"anyOf": [{"not": {"required": ["bankAccountId"]}}, {"required": ["customerId"]}]},
    ],
    "description": "A destination: customerId (its default account), customerId + bankAccountId, "
    "customerId + destinationCbu (one of its active accounts), or destinationCbu alone (a one-off payout).",
}


class PayoutCancelInput(StrictInputSerializer):
    """Cancel takes no parameters; any sent is rejected as unknown."""


class PayoutOutput(serializers.Serializer):
    """Documents the response; rendering goes through payout_representation."""

    payoutId = serializers.CharField()
    amount = serializers.CharField(help_text='Decimal string, e.g. "5000.00".')
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=Payout.Status.choices)
    customerId = serializers.CharField(allow_null=True)
    bankAccountId = serializers.CharField(allow_null=True)
    destinationLast4 = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    failureCode = serializers.CharField(allow_null=True)
    failureMessage = serializers.CharField(allow_null=True)
    holdReasons = serializers.ListField(
        child=serializers.ChoiceField(choices=holds.REASONS),
        help_text="Why the payout was held for compliance review (status held), one code per rule it matched; "
        "kept after the decision. Empty for a payout that was never held.",
    )
    createdAt = serializers.DateTimeField()
    livemode = serializers.BooleanField()


class PayoutListOutput(serializers.Serializer):
    data = PayoutOutput(many=True)
    hasMore = serializers.BooleanField()
