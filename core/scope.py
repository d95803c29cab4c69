from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """What an API key may see: one merchant, in one mode. Every selector and service takes one."""

    merchant_id: int
    livemode: bool
