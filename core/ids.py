"""Public ids: a prefix and a random, URL-safe string. Internal bigint pks never leave the database."""

import re
import secrets
import string
import time
import uuid

ALPHABET = string.ascii_letters + string.digits
TIME_ALPHABET = string.digits + string.ascii_lowercase
TIME_LENGTH = 9  # 36**9 ms: until the year 5188
RANDOM_LENGTH = 24  # 62**24 ~ 2**143: unguessable, and nothing sequential leaks


_UNBIASED_LIMIT = 256 - 256 % len(ALPHABET)  # bytes at or above it would favour some letters


def random_string(length: int = RANDOM_LENGTH) -> str:
    """Uniformly random letters and digits from the OS CSPRNG (a fifth of the cost of secrets.choice)."""
    chars: list[str] = []
    while len(chars) < length:
        chars += [ALPHABET[byte % len(ALPHABET)] for byte in secrets.token_bytes(length * 2) if byte < _UNBIASED_LIMIT]
    return "".join(chars[:length])


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{random_string()}"


def new_sortable_public_id(prefix: str) -> str:
    """A public id whose first 9 characters are the time in milliseconds, in base 36 (digits and lower-case
    letters: in order under any collation), and the other 15 random (62**15 ~ 2**89). For rows written on
    every request whose ids leak nothing but their creation time, which they show anyway (events): their
    unique index grows at its end instead of at random pages."""
    millis = time.time_ns() // 1_000_000
    stamp = ""
    for _ in range(TIME_LENGTH):
        millis, digit = divmod(millis, len(TIME_ALPHABET))
        stamp = TIME_ALPHABET[digit] + stamp
    return f"{prefix}_{stamp}{random_string(RANDOM_LENGTH - TIME_LENGTH)}"


def sortable_uuid() -> uuid.UUID:
    """A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Python 3.12 has no
    uuid.uuid7."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the RFC 4122 variant
    return uuid.UUID(int=value)


def public_id_pattern(prefix: str) -> str:
    return rf"{prefix}_[A-Za-z0-9]{{{RANDOM_LENGTH}}}"


def is_public_id(value: object, prefix: str) -> bool:
    """True when value has the exact shape of one of our ids; checked before any query sees it."""
    return isinstance(value, str) and re.fullmatch(public_id_pattern(prefix), value) is not None
