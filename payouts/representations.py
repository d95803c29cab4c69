"""The API shape of a payout: one rendering for responses and for events."""

from typing import Any

from core.rendering import iso_utc
from payouts.models import Payout
from payouts.selectors import PAYOUT_FIELDS


def payout_representation(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "payoutId": row["public_id"],
        "amount": f"{row['amount']:.2f}",
        "currency": row["currency"],
        "status": row["status"],
        "customerId": row["customer_public_id"],
        "bankAccountId": row["bank_account_public_id"],
        "destinationLast4": row["destination_last4"],
        "description": row["description"] or None,
        "metadata": row["metadata"],
        "failureCode": row["failure_code"] or None,
        "failureMessage": row["failure_message"] or None,
        "holdReasons": row["hold_reasons"],
        "createdAt": iso_utc(row["created_at"]),
        "livemode": row["livemode"],
    }


def payout_to_dict(payout: Payout) -> dict[str, Any]:
    return payout_representation({field: getattr(payout, field) for field in PAYOUT_FIELDS})
