"""How values look in the API's JSON."""


def iso_utc(value) -> str | None:
    """2026-02-25T12:00:00Z, as the doc shows. Values are stored in UTC, to the second."""
    if value is None:
        return None
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
