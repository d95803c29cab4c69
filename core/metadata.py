"""Metadata's limits, Stripe's: a flat object of string keys to string values (the API's field checks
them, services enforce the key count after a PATCH's merge)."""

METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500
