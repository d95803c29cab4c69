"""CBU/CVU account numbers, checked as the banking system checks them (python-stdnum's stdnum.ar.cbu).

A CBU is 22 digits: block 1 = bank (3) + branch (4) + check digit; block 2 = account (13) + check digit.
A CVU (virtual account at a payment provider) has the same shape with entity code 000.
The check digits catch every single-digit error, and every swap of two adjacent digits except when
the two differ by 5: every weight is odd, so (a - b) * (w1 - w2) is a multiple of 10 then. A number
with such a swap passes the BCRA algorithm; nothing can tell it from a real account number.
"""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from stdnum.ar import cbu, cuit
from stdnum.exceptions import ValidationError as StdnumValidationError

CVU_ENTITY = "000"
ENTITIES_FILE = Path(__file__).with_name("data") / "bcra_entities.csv"


class AccountNumberError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AccountNumber:
    digits: str

    @property
    def entity_code(self) -> str:
        return self.digits[:3]

    @property
    def kind(self) -> str:
        return "cvu" if self.entity_code == CVU_ENTITY else "cbu"

    @property
    def last4(self) -> str:
        return self.digits[-4:]

    def __repr__(self) -> str:  # never the whole number, even in a traceback
        return f"AccountNumber(…{self.last4})"

    __str__ = __repr__


def parse_account_number(raw: str) -> AccountNumber:
    """The 22-digit number, or AccountNumberError(s) naming exactly what is wrong.

    Raises the first of: length, characters, then a list of block errors (both blocks may be wrong).
    """
    number = cbu.compact(raw)  # also folds Unicode dashes, spaces and full-width digits to ASCII
    if number and not (number.isascii() and number.isdigit()):
        raise AccountNumberError(
            "account_number_invalid_characters", "accountNumber may contain only digits, spaces and dashes."
        )
    if len(number) != 22:
        raise AccountNumberError(
            "account_number_invalid_length", f"accountNumber must have 22 digits (a CBU or CVU); got {len(number)}."
        )
    errors = block_errors(number)
    if errors:
        raise AccountNumberErrors(errors)
    return AccountNumber(number)


class AccountNumberErrors(ValueError):
    def __init__(self, errors: list[AccountNumberError]):
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


def block_errors(number: str) -> list[AccountNumberError]:
    errors = []
    if cbu.calc_check_digit(number[:7]) != number[7]:
        errors.append(
            AccountNumberError(
                "account_number_invalid_bank_block",
                "accountNumber's first block (bank and branch, digits 1-8) fails its check digit.",
            )
        )
    if cbu.calc_check_digit(number[8:21]) != number[21]:
        errors.append(
            AccountNumberError(
                "account_number_invalid_account_block",
                "accountNumber's second block (account, digits 9-22) fails its check digit.",
            )
        )
    return errors


@cache
def _entities() -> dict[str, str]:
    with ENTITIES_FILE.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["code"]: row["name"] for row in rows}


def bank_name(entity_code: str | None) -> str | None:
    """The bank's name for a CBU's entity code; None for a CVU or a code not in the BCRA table."""
    if entity_code is None or entity_code == CVU_ENTITY:
        return None
    return _entities().get(entity_code)


def normalize_tax_id(value: str) -> str:
    """A CUIT/CUIL as 11 digits; raises ValueError when it is not a valid one."""
    try:
        return cuit.validate(value)
    except StdnumValidationError as exc:
        raise ValueError(str(exc) or "invalid CUIT/CUIL") from None
