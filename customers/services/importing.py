"""The importer's writes: a batch of checked rows (customers/importing.py reads and checks them;
customers/importer.py runs the batches) imported in one transaction, set-wise, by the API's rules."""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import connection, models, transaction

from core import db
from core.ids import new_public_id
from core.scope import Scope
from customers import review
from customers.models import BankAccount, Customer
from customers.selectors import customers_in_scope
from customers.services.bank_accounts import set_number
from customers.services.customers import merge_metadata


@dataclass
class ImportOutcome:
    """What one checked row did: created (a customer or an account), updated (the customer's fields),
    unchanged (all of it was there already), or failed (errors)."""

    row: int
    result: str
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (column, code, message)


@dataclass
class ImportedCustomer:
    """A customer of the batch: stored already (pk set), or to be inserted by it."""

    public_id: str
    external_id: str
    type: str
    country: str
    name: str
    email: str
    metadata: dict[str, str]
    default_bank_account_id: str | None = None
    pk: int | None = None
    changed: bool = False  # a stored customer the batch changes


@dataclass
class ImportedAccount:
    """A new account of the batch. Its attribute names are BankAccount's: set_number and
    review.review_new_account fill it as they fill a model instance, so the API and the import derive the
    same columns."""

    public_id: str
    country: str
    currency: str
    rail: str
    account_type: str
    holder_name: str
    metadata: dict[str, str]
    account_number_ciphertext: str = ""
    account_number_key_id: str = ""
    account_number_fingerprint: str = ""
    account_number_last4: str = ""
    account_kind: str = ""
    entity_code: str = ""
    needs_review: bool = False
    review_reason: str = ""
    customer: ImportedCustomer | None = None  # set by the batch

    @property
    def can_receive_payouts(self) -> bool:
        return self.account_number_ciphertext != ""  # a new account is active


@transaction.atomic
def customers_import_batch(*, scope: Scope, rows: list) -> list[ImportOutcome]:
    """Import checked rows (customers/importing.CheckedRow, accounts from import_account_prepare) in one
    transaction, matching customers by externalId and accounts by number, so importing the same rows
    again changes nothing.

    The API's rules, set-wise: a customer's type and country do not change; the same number twice on
    one customer is one account; a number on several customers of the merchant flags them all for
    review; the first account that can receive payouts becomes the default. Customers in the batch are
    locked, so API writes to them wait for the batch. New rows go in with COPY on PostgreSQL (a few
    statements a batch, whatever its size); a lost race for an externalId raises IntegrityError.
    """
    customers = _stored_customers(scope, {row.external_id for row in rows})
    stored = list(customers.values())
    outcomes = [_import_customer(row, customers) for row in rows]
    accounts = _import_accounts(rows, customers, outcomes, stored)
    _set_first_defaults(accounts)
    new = [customer for customer in customers.values() if customer.pk is None]
    # Every id is made here, so a new customer names its default before the account exists (the
    # foreign key is checked at commit); the accounts need their customer's primary key.
    for customer, pk in zip(new, _new_primary_keys(Customer, len(new)), strict=True):
        customer.pk = pk
    _insert_rows(Customer, IMPORT_CUSTOMER_COLUMNS, [_customer_values(scope, customer) for customer in new])
    _insert_rows(BankAccount, IMPORT_ACCOUNT_COLUMNS, [_account_values(scope, account) for account in accounts])
    _update_stored([customer for customer in stored if customer.changed])
    review.flag_shared_numbers_imported(scope, {account.account_number_fingerprint for account in accounts} - {""})
    return outcomes


def customers_tables_analyze() -> None:
    """Fresh planner statistics after a bulk load. Until autovacuum gets to it, a merchant that just
    imported many customers looks tiny to the planner, which then reads its lookups by id off the
    (merchant, mode) index, scanning all its rows: milliseconds per request instead of 0.1 ms."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer, customers_bankaccount")


def _stored_customers(scope: Scope, external_ids: set[str]) -> dict[str, ImportedCustomer]:
    """The batch's customers that exist, locked."""
    found = (
        customers_in_scope(scope=scope)
        .filter(external_id__in=external_ids)
        .select_for_update()
        .values_list(
            "public_id", "external_id", "type", "country", "name", "email", "metadata", "default_bank_account_id", "pk"
        )
    )
    return {values[1]: ImportedCustomer(*values) for values in found}


def _import_customer(row, customers: dict[str, ImportedCustomer]) -> ImportOutcome:
    data = row.customer
    customer = customers.get(row.external_id)
    if customer is None:
        customers[row.external_id] = ImportedCustomer(
            public_id=new_public_id("cust"),
            external_id=row.external_id,
            type=data["type"],
            country=data["country"],
            name=data["name"],
            email=data.get("email") or "",
            metadata=data.get("metadata") or {},
        )
        return ImportOutcome(row.number, "created")
    errors = [
        (column, "parameter_read_only", f"{column} cannot change: this customer's is {getattr(customer, column)!r}.")
        for column in ("type", "country")
        if data[column] != getattr(customer, column)
    ]
    if errors:
        return ImportOutcome(row.number, "failed", errors)
    changes = {
        "name": data["name"],
        "email": data.get("email") or "",
        "metadata": merge_metadata(customer.metadata, data.get("metadata") or {}),
    }
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, changes[name])
    customer.changed = customer.changed or (bool(changed) and customer.pk is not None)
    return ImportOutcome(row.number, "updated" if changed else "unchanged")


def _import_accounts(
    rows: list, customers: dict[str, ImportedCustomer], outcomes: list[ImportOutcome], stored: list[ImportedCustomer]
) -> list[ImportedAccount]:
    """The rows' accounts that are not there yet."""
    public_ids = {customer.pk: customer.public_id for customer in stored}
    have = {
        (public_ids[customer_pk], *_identity(fingerprint, holder_name, account_type))
        for customer_pk, fingerprint, holder_name, account_type in BankAccount.objects.filter(
            customer_id__in=list(public_ids), status=BankAccount.Status.ACTIVE
        ).values_list("customer_id", "account_number_fingerprint", "holder_name", "account_type")
    }
    new: list[ImportedAccount] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        if outcome.result == "failed":
            continue
        customer = customers[row.external_id]
        for account in row.accounts:
            identity = (
                customer.public_id,
                *_identity(account.account_number_fingerprint, account.holder_name, account.account_type),
            )
            if identity in have:
                continue
            have.add(identity)
            account.customer = customer
            new.append(account)
            if outcome.result == "unchanged":
                outcome.result = "created"
    return new


def _identity(fingerprint: str, holder_name: str, account_type: str) -> tuple[str, str, str]:
    """Numbers identify accounts; an account without one is the same when holder and type are."""
    return (fingerprint, "", "") if fingerprint else ("", holder_name, account_type)


def import_account_prepare(data: dict[str, Any], *, customer_type: str) -> ImportedAccount:
    """A checked row's account (BankAccountCreateInput's data), its number encrypted, ready for a batch:
    the CPU-heavy part of importing it, done while the previous batch is being written."""
    account = ImportedAccount(
        public_id=new_public_id("ba"),
        country=data["country"],
        currency=data["currency"],
        rail=data["rail"],
        account_type=data["account_type"],
        holder_name=data["holder_name"],
        metadata=data.get("metadata") or {},
    )
    if data.get("account_number") is not None:
        set_number(account, data["account_number"])
    review.review_new_account(account, customer_type)  # a row of another type than its stored customer's fails
    return account


def _set_first_defaults(accounts: list[ImportedAccount]) -> None:
    """Customers without a default get their first new account that can receive payouts."""
    for account in accounts:
        customer = account.customer
        if customer.default_bank_account_id is None and account.can_receive_payouts:
            customer.default_bank_account_id = account.public_id
            customer.changed = customer.changed or customer.pk is not None


# Columns the import sets; every other column gets its model default (_insert_rows).
IMPORT_CUSTOMER_COLUMNS = (
    "id",
    "public_id",
    "merchant_id",
    "livemode",
    "type",
    "name",
    "email",
    "country",
    "external_id",
    "metadata",
    "default_bank_account_public_id",
)
IMPORT_ACCOUNT_COLUMNS = (
    "public_id",
    "customer_id",
    "merchant_id",
    "livemode",
    "country",
    "currency",
    "rail",
    "account_type",
    "holder_name",
    "account_number_ciphertext",
    "account_number_key_id",
    "account_number_fingerprint",
    "account_number_last4",
    "account_kind",
    "entity_code",
    "needs_review",
    "review_reason",
    "metadata",
)


def _customer_values(scope: Scope, customer: ImportedCustomer) -> tuple:
    return (
        customer.pk,
        customer.public_id,
        scope.merchant_id,
        scope.livemode,
        customer.type,
        customer.name,
        customer.email,
        customer.country,
        customer.external_id,
        customer.metadata,
        customer.default_bank_account_id,
    )


def _account_values(scope: Scope, account: ImportedAccount) -> tuple:
    return (
        account.public_id,
        account.customer.pk,
        scope.merchant_id,
        scope.livemode,
        account.country,
        account.currency,
        account.rail,
        account.account_type,
        account.holder_name,
        account.account_number_ciphertext,
        account.account_number_key_id,
        account.account_number_fingerprint,
        account.account_number_last4,
        account.account_kind,
        account.entity_code,
        account.needs_review,
        account.review_reason,
        account.metadata,
    )


def _new_primary_keys(model: type[models.Model], count: int) -> list[int]:
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def _insert_rows(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT rows of values for columns; the model's other columns get their defaults, worked out once
    (created_at: one second for the batch). COPY into a temporary table, then INSERT … SELECT into the
    model's, a statement the audit trail's triggers see with its actor (pghistory sets it on statements
    sent through Django, which COPY is not). Either psycopg driver (core.db.copy_in)."""
    if not rows:
        return
    fields = {f.column: f for f in model._meta.concrete_fields}
    others = [f for f in fields.values() if f.column not in columns and not f.primary_key]
    json_at = [i for i, column in enumerate(columns) if isinstance(fields[column], models.JSONField)]
    quote = connection.ops.quote_name
    parts = {
        "table": quote(model._meta.db_table),
        "staging": quote(f"import_{model._meta.db_table}"),
        "names": ", ".join(map(quote, columns)),
        "others": ", ".join(quote(f.column) for f in others),
        "defaults": ", ".join(["%s"] * len(others)),
    }
    with connection.cursor() as cursor:
        cursor.execute(STAGE.format(**parts))
        db.copy_in(cursor, COPY.format(**parts), _csv(rows, json_at))
        cursor.execute(STAGED_INSERT.format(**parts), [f.get_db_prep_save(f.get_default(), connection) for f in others])


# One temporary table per model and connection, emptied for each batch (and at commit).
STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS SELECT {names} FROM {table} WITH NO DATA;
TRUNCATE {staging}
"""
COPY = "COPY {staging} FROM STDIN WITH (FORMAT csv)"
STAGED_INSERT = "INSERT INTO {table} ({names}, {others}) SELECT {names}, {defaults} FROM {staging}"


def _csv(rows: list[tuple], json_at: list[int]) -> io.StringIO:
    """COPY's CSV: None (unquoted, empty) is NULL, "" is an empty string."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NOTNULL)
    for row in rows:
        values = list(row)
        for i in json_at:
            values[i] = orjson.dumps(values[i]).decode()
        writer.writerow(values)
    buffer.seek(0)
    return buffer


def _update_stored(customers: list[ImportedCustomer]) -> None:
    """Stored customers whose name, email, metadata or default the batch changed (re-imports only)."""
    Customer.objects.bulk_update(
        [
            Customer(
                pk=customer.pk,
                name=customer.name,
                email=customer.email,
                metadata=customer.metadata,
                default_bank_account_id=customer.default_bank_account_id,
            )
            for customer in customers
        ],
        ["name", "email", "metadata", "default_bank_account"],
    )
