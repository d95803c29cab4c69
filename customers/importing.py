"""Reading and checking an import file of customers and their bank accounts, one row at a time.

Two formats. CSV: a header row, columns in any order: externalId, type, name, email, country,
metadata.<key>, and optionally one bank account per row: accountNumber, accountType, holderName, currency,
rail, bankMetadata.<key>. Empty cells are absent values. Several rows with one externalId add several
accounts to one customer. JSONL: one JSON object per line in the API's own request shapes, with
`bankAccounts` as a list of bank-account requests.

Every row is checked by the fields of the API's own input serializers (their checks are the plain
functions of customers/validation.py), so the rules, codes and messages are the API's; an error names the
row (the file's line number) and the column (for JSONL, the JSON path).
"""

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from api.errors import field_errors
from api.serializers import StrictInputSerializer, unexpected_params
from customers.serializers import BankAccountCreateInput, CustomerCreateInput
from customers.services import ImportedAccount, import_account_prepare

ACCOUNT_COLUMNS = ("accountNumber", "accountType", "holderName", "currency", "rail")
CUSTOMER_COLUMNS = ("externalId", "type", "name", "email", "country")
# Bank accounts are Argentine: a CSV does not repeat what only has one possible value.
CSV_ACCOUNT_DEFAULTS = {"country": "AR", "currency": "ARS", "rail": "OTHER"}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    code: str
    message: str


@dataclass
class Row:
    """One record of the file, in the API's request shapes."""

    number: int
    customer: dict[str, Any]
    accounts: list[dict[str, Any]]
    csv: bool = True


@dataclass
class CheckedRow:
    number: int
    external_id: str
    customer: dict[str, Any]  # CustomerCreateInput's validated data
    accounts: list[ImportedAccount] = field(default_factory=list)  # BankAccountCreateInput's data, prepared


class FileFormatError(Exception):
    """The file cannot be read as an import at all (no header, not CSV or JSONL)."""


def read_rows(stream: IO[bytes], *, fmt: str) -> Iterator[Row | RowError]:
    """Rows as they are read (memory stays flat), or a RowError for a line that is not a record."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    return _read_csv(text) if fmt == "csv" else _read_jsonl(text)


def _read_csv(text: IO[str]) -> Iterator[Row]:
    reader = csv.reader(text)
    header = next(reader, None)
    if not header:
        raise FileFormatError("the CSV file is empty: it needs a header row")
    unknown = [
        name
        for name in header
        if name not in CUSTOMER_COLUMNS
        and name not in ACCOUNT_COLUMNS
        and not name.startswith(("metadata.", "bankMetadata."))
    ]
    if unknown:
        raise FileFormatError(f"unknown columns: {', '.join(unknown)}")
    for cells in reader:
        number = reader.line_num
        values = {name: value for name, value in zip(header, cells, strict=False) if value != ""}
        customer = {name: values[name] for name in CUSTOMER_COLUMNS if name in values}
        metadata = {name[9:]: value for name, value in values.items() if name.startswith("metadata.")}
        if metadata:
            customer["metadata"] = metadata
        accounts = []
        if any(name in values for name in ("accountNumber", "accountType", "holderName")):
            account = {**CSV_ACCOUNT_DEFAULTS, **{name: values[name] for name in ACCOUNT_COLUMNS if name in values}}
            bank_metadata = {name[13:]: value for name, value in values.items() if name.startswith("bankMetadata.")}
            if bank_metadata:
                account["metadata"] = bank_metadata
            accounts.append(account)
        yield Row(number, customer, accounts)


def _read_jsonl(text: IO[str]) -> Iterator[Row | RowError]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield RowError(number, "", "invalid_json", "This line is not a JSON object.")
            continue
        if not isinstance(record, dict):
            yield RowError(number, "", "invalid_json", "This line is not a JSON object.")
            continue
        accounts = record.pop("bankAccounts", [])
        if not isinstance(accounts, list):
            yield RowError(number, "bankAccounts", "parameter_invalid_type", "bankAccounts must be a list.")
            continue
        yield Row(number, record, accounts, csv=False)


class RowChecker:
    """The API's input serializers' own fields, run on every row without the serializer around them
    (a quarter of the cost): the same rules, codes and messages, in the serializer's order."""

    def __init__(self) -> None:
        self.customer = InputChecker(CustomerCreateInput())
        self.account = InputChecker(BankAccountCreateInput())

    def check(self, row: Row) -> CheckedRow | list[RowError]:
        errors: list[RowError] = []
        customer = self._run(self.customer, row.customer, errors, row, _same)
        if not row.customer.get("externalId"):
            errors.append(
                RowError(row.number, "externalId", "parameter_missing", "externalId is needed to match customers.")
            )
        accounts = []
        for index, account in enumerate(row.accounts):
            accounts.append(self._run(self.account, account, errors, row, _account_column(row, index)))
        if errors:
            return errors
        prepared = [import_account_prepare(account, customer_type=customer["type"]) for account in accounts]
        return CheckedRow(row.number, customer["external_id"], customer, prepared)

    @staticmethod
    def _run(checker: "InputChecker", data: Any, errors: list[RowError], row: Row, column) -> dict[str, Any]:
        values, found = checker.check(data)
        errors.extend(RowError(row.number, column(param or ""), code, message) for param, code, message in found)
        return values


class InputChecker:
    """What StrictInputSerializer.run_validation does, field by field: unknown and read-only parameters
    refused, every error at once, as (param, code, message) the way the API's error body lists them."""

    def __init__(self, serializer: StrictInputSerializer):
        self.fields = list(serializer.fields.items())
        self.names = {name for name, _ in self.fields}
        self.read_only = serializer.read_only_params

    def check(self, data: Any) -> tuple[dict[str, Any], list[tuple[str | None, str, str]]]:
        if not isinstance(data, Mapping):
            return {}, [(None, "invalid_body", "The request body must be a JSON object.")]
        values: dict[str, Any] = {}
        errors: list[tuple[str | None, str, str]] = []
        for name, input_field in self.fields:
            try:
                values[input_field.source] = input_field.run_validation(data.get(name, empty))
            except SkipField:
                pass
            except serializers.ValidationError as exc:
                errors += [(e["param"], e["code"], e["message"]) for e in field_errors(exc.detail, name)]
        for key, details in unexpected_params(data, self.names, self.read_only).items():
            errors += [(key, detail.code, str(detail)) for detail in details]
        return values, errors


def _same(param: str) -> str:
    return param


def _account_column(row: Row, index: int):
    """Where an account's field is in the file: CSV columns, or JSON paths."""
    if row.csv:
        return lambda param: "bank" + param[0].upper() + param[1:] if param.startswith("metadata") else param
    return lambda param: f"bankAccounts[{index}].{param}" if param else f"bankAccounts[{index}]"
