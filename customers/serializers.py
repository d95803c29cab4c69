"""Customer and bank account input (shape checks) and output (the doc's fields, camelCase only here)."""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.serializers import MetadataField, PublicIdField, StrictCharField, StrictInputSerializer
from customers import validation
from customers.accounts import normalize_tax_id
from customers.countries import COUNTRY_CODES
from customers.models import BankAccount, Customer
from customers.validation import FieldInvalid

CUSTOMER_READ_ONLY = ("customerId", "livemode", "createdAt", "last_out", "defaultBankAccountId")


class CheckedField(serializers.Field):
    """A field whose value is checked by a plain function of customers.validation (the importer calls
    the same fields); a missing or null value stays DRF's (required, allow_null, partial updates)."""

    def check(self, value: Any) -> Any:
        raise NotImplementedError

    def run_validation(self, data=serializers.empty):
        if data is serializers.empty or data is None:
            return super().run_validation(data)
        try:
            return self.check(data)
        except FieldInvalid as exc:
            details = [ErrorDetail(message, code=code) for code, message in exc.errors]
            raise serializers.ValidationError(details) from None


@extend_schema_field({"type": "string", "enum": sorted(COUNTRY_CODES)})
class CountryField(CheckedField, StrictCharField):
    check = staticmethod(validation.check_country)


@extend_schema_field({"type": "string", "format": "email", "maxLength": validation.EMAIL_MAX_LENGTH})
class EmailField(CheckedField, StrictCharField):
    check = staticmethod(validation.check_email)

    def __init__(self, **kwargs):
        super().__init__(max_length=validation.EMAIL_MAX_LENGTH, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": validation.NAME_MAX_LENGTH,
        "pattern": r"^[^\u0000]*\S[^\u0000]*$",
    }
)
class NameField(CheckedField, StrictCharField):
    check = staticmethod(validation.check_name)

    def __init__(self, **kwargs):
        super().__init__(max_length=validation.NAME_MAX_LENGTH, trim_whitespace=True, **kwargs)


class ExternalIdField(CheckedField, StrictCharField):
    """The merchant's own id for the customer: 1 to 128 characters, unique per merchant and mode."""

    check = staticmethod(validation.check_external_id)

    def __init__(self, **kwargs):
        super().__init__(
            source="external_id",
            min_length=1,
            max_length=validation.EXTERNAL_ID_MAX_LENGTH,
            trim_whitespace=False,
            allow_null=True,
            **kwargs,
        )


class ChoiceField(CheckedField, serializers.ChoiceField):
    def check(self, value: Any) -> str:
        return validation.check_choice(value, self.choice_strings_to_values)


class CustomerCreateInput(StrictInputSerializer):
    read_only_params = CUSTOMER_READ_ONLY

    type = ChoiceField(choices=Customer.Type.choices)
    name = NameField()
    country = CountryField()
    email = EmailField(required=False, allow_null=True)
    externalId = ExternalIdField(required=False)
    metadata = MetadataField(required=False)


class CustomerUpdateInput(StrictInputSerializer):
    read_only_params = (*CUSTOMER_READ_ONLY, "type", "country")

    name = NameField(required=False)
    email = EmailField(required=False, allow_null=True)
    externalId = ExternalIdField(required=False, help_text="null removes it.")
    metadata = MetadataField(required=False, allow_unset=True)
    defaultBankAccountId = PublicIdField(
        "ba",
        source="default_bank_account_id",
        required=False,
        allow_null=True,
        help_text="One of this customer's active bank accounts, or null for none.",
    )


class CustomerOutput(serializers.Serializer):
    """Documents the response; rendering goes through customer_representation (no per-field overhead)."""

    customerId = serializers.CharField()
    type = serializers.ChoiceField(choices=Customer.Type.choices)
    name = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    country = serializers.CharField()
    externalId = serializers.CharField(allow_null=True, help_text="The merchant's own id for this customer.")
    defaultBankAccountId = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    createdAt = serializers.DateTimeField()
    last_out = serializers.DateTimeField(allow_null=True)
    livemode = serializers.BooleanField()


class CustomerListOutput(serializers.Serializer):
    data = CustomerOutput(many=True)
    hasMore = serializers.BooleanField()


# Bank accounts


class SupportedValueField(CheckedField, StrictCharField):
    """A field that, for now, takes exactly one value; anything else says what is supported."""

    def __init__(self, supported: str, code: str, **kwargs):
        self.supported = supported
        self.unsupported_code = code
        super().__init__(**kwargs)

    def check(self, value: Any) -> str:
        return validation.check_supported(value, self.supported, self.unsupported_code)


class SupportedValueFieldExtension(OpenApiSerializerFieldExtension):
    target_class = SupportedValueField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": [self.target.supported]}


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": validation.HOLDER_NAME_MAX_LENGTH,
        "pattern": r"^[^\u0000]*\S[^\u0000]*$",
    }
)
class HolderNameField(CheckedField, StrictCharField):
    check = staticmethod(validation.check_holder_name)

    def __init__(self, **kwargs):
        super().__init__(max_length=validation.HOLDER_NAME_MAX_LENGTH, trim_whitespace=True, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^[ -]*([0-9][ -]*){22}$",
        "maxLength": validation.ACCOUNT_NUMBER_MAX_LENGTH,
        "description": "22-digit CBU or CVU; spaces and dashes are ignored. Both check digits must be valid.",
        "example": "0070327530004025541644",
    }
)
class AccountNumberField(CheckedField, StrictCharField):
    check = staticmethod(validation.check_account_number)

    def __init__(self, **kwargs):
        super().__init__(max_length=validation.ACCOUNT_NUMBER_MAX_LENGTH, **kwargs)


TAX_ID_KEYS = {"cuit": "invalid_cuit", "cuil": "invalid_cuil"}


class BankAccountMetadataField(MetadataField):
    """Metadata, where `cuit` and `cuil`, when present, must be valid and are stored as 11 digits."""

    def to_internal_value(self, data):
        data = dict(super().to_internal_value(data))
        for key, code in TAX_ID_KEYS.items():
            if data.get(key) is None:
                continue
            try:
                data[key] = normalize_tax_id(data[key])
            except ValueError:
                raise serializers.ValidationError(
                    {key: [ErrorDetail(f"metadata.{key} is not a valid {key.upper()}.", code=code)]}
                ) from None
        return data


BANK_ACCOUNT_READ_ONLY = (
    "bankAccountId",
    "customerId",
    "accountNumberLast4",
    "accountKind",
    "bankName",
    "status",
    "createdAt",
    "livemode",
)


class BankAccountCreateInput(StrictInputSerializer):
    read_only_params = BANK_ACCOUNT_READ_ONLY

    country = SupportedValueField("AR", code="unsupported_country")
    currency = SupportedValueField("ARS", code="unsupported_currency")
    rail = SupportedValueField("OTHER", code="unsupported_rail")
    accountType = ChoiceField(source="account_type", choices=BankAccount.AccountType.choices)
    holderName = HolderNameField(source="holder_name")
    accountNumber = AccountNumberField(source="account_number", required=False, allow_null=True)
    metadata = BankAccountMetadataField(required=False)


class BankAccountUpdateInput(StrictInputSerializer):
    # A new number is a new account: only the holder's name and metadata change.
    read_only_params = (*BANK_ACCOUNT_READ_ONLY, "country", "currency", "rail", "accountType", "accountNumber")

    holderName = HolderNameField(source="holder_name", required=False)
    metadata = BankAccountMetadataField(required=False, allow_unset=True)


class BankAccountOutput(serializers.Serializer):
    """Documents the response; rendering goes through bank_account_representation."""

    bankAccountId = serializers.CharField()
    customerId = serializers.CharField()
    country = serializers.CharField()
    currency = serializers.CharField()
    rail = serializers.CharField()
    accountNumberLast4 = serializers.CharField(allow_null=True)
    accountType = serializers.ChoiceField(choices=BankAccount.AccountType.choices)
    holderName = serializers.CharField()
    accountKind = serializers.ChoiceField(choices=BankAccount.Kind.choices, allow_null=True)
    bankName = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=BankAccount.Status.choices)
    metadata = serializers.DictField(child=serializers.CharField())
    createdAt = serializers.DateTimeField()
    livemode = serializers.BooleanField()


class BankAccountListOutput(serializers.Serializer):
    data = BankAccountOutput(many=True)
    hasMore = serializers.BooleanField()
