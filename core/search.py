"""What a back-office search term is, from its shape: each kind is answered by one index, never by one
ILIKE over every column (README "The compliance back-office": search)."""

import re
from dataclasses import dataclass
from enum import Enum

from core.ids import RANDOM_LENGTH


class Kind(Enum):
    PUBLIC_ID = "public id"  # cust_…, ba_…, po_…: the id's unique index
    TAX_ID = "CUIT/CUIL"  # 11 digits (dashes, dots and spaces ignored)
    LAST4 = "last four digits"  # 4 digits
    ACCOUNT_NUMBER = "account number"  # 22 digits: found by its fingerprint, never decrypted
    EMAIL = "email"  # contains @
    ACTOR = "actor"  # word:…, as the audit trail names who acted (staff:ana, api_key:sk_test_ab12, command:…)
    TEXT = "name"  # anything else: a name fragment (at least MIN_TEXT characters)


MIN_TEXT = 3  # trigram indexes need three characters to narrow anything down
_PUBLIC_ID = re.compile(rf"([a-z]+)_[A-Za-z0-9]{{{RANDOM_LENGTH}}}")
_SEPARATORS = re.compile(r"[\s.\-/]")
_ACTOR = re.compile(r"[a-z_]+:\S+")
_DIGIT_KINDS = {11: Kind.TAX_ID, 4: Kind.LAST4, 22: Kind.ACCOUNT_NUMBER}


@dataclass(frozen=True)
class Term:
    kind: Kind
    value: str
    prefix: str = ""  # a public id's prefix: "cust", "ba", "po", …

    @property
    def searchable(self) -> bool:
        return self.kind is not Kind.TEXT or len(self.value) >= MIN_TEXT


def parse_term(raw: str) -> Term:
    text = raw.strip()
    if match := _PUBLIC_ID.fullmatch(text):
        return Term(Kind.PUBLIC_ID, text, match.group(1))
    digits = _SEPARATORS.sub("", text)
    if digits.isascii() and digits.isdigit() and len(digits) in _DIGIT_KINDS:
        return Term(_DIGIT_KINDS[len(digits)], digits)
    if "@" in text:
        return Term(Kind.EMAIL, text)
    if _ACTOR.fullmatch(text):
        return Term(Kind.ACTOR, text)
    return Term(Kind.TEXT, text)
