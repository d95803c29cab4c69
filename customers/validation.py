"""The checks of a customer's and a bank account's fields, as plain functions.

The API's serializer fields (customers/serializers.py) run them, and so does the importer, through those
same fields (customers/importing.py) without the serializer around them: one rule, one place. A failed
check raises FieldInvalid with DRF's error codes and messages (the error body maps the codes,
api.errors.FIELD_CODES), all of a field's errors at once, in DRF's order.
"""

import re
from collections.abc import Callable, Mapping

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from customers.accounts import AccountNumber, AccountNumberError, AccountNumberErrors, parse_account_number
from customers.countries import COUNTRY_CODES

NAME_MAX_LENGTH = 200
EMAIL_MAX_LENGTH = 254
EXTERNAL_ID_MAX_LENGTH = 128
HOLDER_NAME_MAX_LENGTH = 100
ACCOUNT_NUMBER_MAX_LENGTH = 40

_SURROGATE = re.compile("[\ud800-\udfff]")
_email_validator = EmailValidator()


class FieldInvalid(ValueError):
    def __init__(self, *errors: tuple[str, str]):  # (code, message)
        super().__init__("; ".join(message for _, message in errors))
        self.errors = list(errors)


def text(value: object, *, trim: bool = True) -> str:
    """A JSON string, not blank; trimmed unless trim is False (DRF CharField's first steps, strictly typed)."""
    if value == "" or (trim and isinstance(value, str) and value.strip() == ""):
        raise FieldInvalid(("blank", "This field may not be blank."))
    if not isinstance(value, str):
        raise FieldInvalid(("invalid_type", f"Expected a string, got {type(value).__name__}."))
    return value.strip() if trim else value


def check_string(
    value: object,
    *,
    max_length: int | None = None,
    min_length: int | None = None,
    trim: bool = True,
    rule: Callable[[str], None] | None = None,
) -> str:
    """A string field: its own rule, then length, NUL and surrogates, every failure reported."""
    value = text(value, trim=trim)
    errors = []
    if rule is not None:
        try:
            rule(value)
        except FieldInvalid as exc:
            errors += exc.errors
    if max_length is not None and len(value) > max_length:
        errors.append(("max_length", f"Ensure this field has no more than {max_length} characters."))
    if min_length is not None and len(value) < min_length:
        errors.append(("min_length", f"Ensure this field has at least {min_length} characters."))
    if "\x00" in value:
        errors.append(("null_characters_not_allowed", "Null characters are not allowed."))
    surrogate = _SURROGATE.search(value)
    if surrogate:
        errors.append(
            ("surrogate_characters_not_allowed", f"Surrogate characters are not allowed: U+{ord(surrogate[0]):X}.")
        )
    if errors:
        raise FieldInvalid(*errors)
    return value


def country_rule(value: str) -> None:
    if value not in COUNTRY_CODES:
        raise FieldInvalid(("invalid_country", f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'AR')."))


def email_rule(value: str) -> None:
    try:
        _email_validator(value)
    except ValidationError:
        raise FieldInvalid(("invalid_email", f"{value!r} is not a valid email address.")) from None


def check_choice(value: object, choices: Mapping[str, str]) -> str:
    """One of choices (its keys as strings), as DRF's ChoiceField takes it."""
    try:
        return choices[str(value)]
    except KeyError:
        raise FieldInvalid(("invalid_choice", f'"{value}" is not a valid choice.')) from None


def check_name(value: object) -> str:
    return check_string(value, max_length=NAME_MAX_LENGTH)


def check_country(value: object) -> str:
    return check_string(value, rule=country_rule)


def check_email(value: object) -> str:
    return check_string(value, max_length=EMAIL_MAX_LENGTH, rule=email_rule)


def check_external_id(value: object) -> str:
    return check_string(value, min_length=1, max_length=EXTERNAL_ID_MAX_LENGTH, trim=False)


def check_holder_name(value: object) -> str:
    return check_string(value, max_length=HOLDER_NAME_MAX_LENGTH)


def check_supported(value: object, supported: str, code: str) -> str:
    """A field that, for now, takes exactly one value; anything else says what is supported."""
    value = text(value)
    if value != supported:
        raise FieldInvalid((code, f"{value[:20]!r} is not supported: only {supported!r} is."))
    return value


def check_account_number(value: object) -> AccountNumber:
    """A CBU or CVU: the string checks first (type, length, NUL), then the number's own."""
    raw = check_string(value, max_length=ACCOUNT_NUMBER_MAX_LENGTH)
    try:
        return parse_account_number(raw)
    except AccountNumberError as exc:
        raise FieldInvalid((exc.code, exc.message)) from None
    except AccountNumberErrors as exc:
        raise FieldInvalid(*[(error.code, error.message) for error in exc.errors]) from None
