"""The API shape of events, webhook endpoints and deliveries: one rendering for responses and webhooks.
Each takes a dict of the selectors' field tuple (a .values() row)."""

from typing import Any

import orjson

from core.rendering import iso_utc

EVENT_FIELDS = ("public_id", "type", "created_at", "livemode", "data")
ENDPOINT_FIELDS = (
    "public_id",
    "url",
    "enabled_events",
    "description",
    "status",
    "disabled_reason",
    "created_at",
    "livemode",
)
DELIVERY_FIELDS = ("pk", "public_id", "event__public_id", "event__type", "status", "next_attempt_at", "created_at")


def row(obj, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def event_representation(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventId": event["public_id"],
        "type": event["type"],
        "createdAt": iso_utc(event["created_at"]),
        "livemode": event["livemode"],
        "data": orjson.loads(event["data"]),
    }


def endpoint_representation(endpoint: dict[str, Any], *, secret: str | None = None) -> dict[str, Any]:
    shown = {
        "webhookEndpointId": endpoint["public_id"],
        "url": endpoint["url"],
        "enabledEvents": list(endpoint["enabled_events"]),
        "description": endpoint["description"] or None,
        "status": endpoint["status"],
        "disabledReason": endpoint["disabled_reason"] or None,
        "createdAt": iso_utc(endpoint["created_at"]),
        "livemode": endpoint["livemode"],
    }
    if secret is not None:  # only when it is made: at creation and at a roll
        shown["secret"] = secret
    return shown


def delivery_representation(delivery: dict[str, Any], endpoint_id: str, attempts: list[dict]) -> dict[str, Any]:
    pending = delivery["status"] == "pending"
    return {
        "deliveryId": delivery["public_id"],
        "eventId": delivery["event__public_id"],
        "eventType": delivery["event__type"],
        "webhookEndpointId": endpoint_id,
        "status": delivery["status"],
        "nextAttemptAt": iso_utc(delivery["next_attempt_at"]) if pending else None,
        "createdAt": iso_utc(delivery["created_at"]),
        "attempts": [
            {
                "attemptedAt": iso_utc(attempt["attempted_at"]),
                "statusCode": attempt["status_code"],
                "error": attempt["error"] or None,
                "durationMs": attempt["duration_ms"],
                "responseExcerpt": attempt["response_excerpt"],
                "succeeded": attempt["succeeded"],
            }
            for attempt in attempts
        ],
    }
