"""The event types a merchant can receive, and subscribe to ("*": all of them, including later ones)."""

EVENT_TYPES = (
    "customer.created",
    "customer.updated",
    "bank_account.created",
    "bank_account.updated",
    "bank_account.disabled",
    "payout.created",
    "payout.held",
    "payout.approved",
    "payout.rejected",
    "payout.processing",
    "payout.paid",
    "payout.failed",
    "payout.canceled",
)
ALL_EVENTS = "*"
