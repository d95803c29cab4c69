"""The API shape of customers and bank accounts: one rendering for responses and for events
(events.services records the resource exactly as the API returns it). camelCase lives here and in the
serializers only."""

from typing import Any

from core.rendering import iso_utc
from customers.accounts import bank_name
from customers.models import BankAccount, Customer
from customers.selectors import BANK_ACCOUNT_FIELDS, CUSTOMER_FIELDS


def customer_representation(row: dict[str, Any]) -> dict[str, Any]:
    """The API shape of one customer, from a dict of CUSTOMER_FIELDS (a .values() row)."""
    return {
        "customerId": row["public_id"],
        "type": row["type"],
        "name": row["name"],
        "email": row["email"] or None,
        "country": row["country"],
        "externalId": row["external_id"] or None,
        "defaultBankAccountId": row["default_bank_account_id"],
        "metadata": row["metadata"],
        "createdAt": iso_utc(row["created_at"]),
        "last_out": iso_utc(row["last_out"]),
        "livemode": row["livemode"],
    }


def customer_to_dict(customer: Customer) -> dict[str, Any]:
    return customer_representation({field: getattr(customer, field) for field in CUSTOMER_FIELDS})


def bank_account_representation(row: dict[str, Any], customer_public_id: str) -> dict[str, Any]:
    return {
        "bankAccountId": row["public_id"],
        "customerId": customer_public_id,
        "country": row["country"],
        "currency": row["currency"],
        "rail": row["rail"],
        "accountNumberLast4": row["account_number_last4"] or None,
        "accountType": row["account_type"],
        "holderName": row["holder_name"],
        "accountKind": row["account_kind"] or None,
        "bankName": bank_name(row["entity_code"] or None),
        "status": row["status"],
        "metadata": row["metadata"],
        "createdAt": iso_utc(row["created_at"]),
        "livemode": row["livemode"],
    }


def bank_account_to_dict(account: BankAccount, customer_public_id: str) -> dict[str, Any]:
    return bank_account_representation(
        {field: getattr(account, field) for field in BANK_ACCOUNT_FIELDS}, customer_public_id
    )
