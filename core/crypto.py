"""Encryption at rest for account numbers, and keyed fingerprints for matching them.

FIELD_ENCRYPTION_KEYS: Fernet keys, comma-separated, newest first. The first encrypts; all decrypt
(MultiFernet), so a key can be rotated in without downtime (`rotate_encryption_key`).
ACCOUNT_FINGERPRINT_KEY: a separate secret for the HMAC that finds equal numbers without decrypting;
it never rotates with the encryption keys, or fingerprints would stop matching.
"""

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """Stored ciphertext could not be decrypted with any configured key. Never shown as data."""


@cache
def _keys() -> tuple[Fernet, ...]:
    return tuple(Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS)


def key_id(raw_key: str | bytes) -> str:
    """A short, non-secret name for a key, stored beside each ciphertext to know which key made it."""
    raw = raw_key.encode() if isinstance(raw_key, str) else raw_key
    return hashlib.sha256(b"key-id:" + raw).hexdigest()[:16]


def primary_key_id() -> str:
    return key_id(settings.FIELD_ENCRYPTION_KEYS[0])


def encrypt(plaintext: str) -> str:
    return _keys()[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return MultiFernet(list(_keys())).decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("Stored value cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS.") from None


def rotate(token: str) -> str:
    """The same plaintext, encrypted with the primary key."""
    try:
        return MultiFernet(list(_keys())).rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("Stored value cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS.") from None


def fingerprint(value: str) -> str:
    return hmac.new(settings.ACCOUNT_FINGERPRINT_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def reset_cache() -> None:
    """For tests that change FIELD_ENCRYPTION_KEYS."""
    _keys.cache_clear()
