"""The importer's writes: a batch of prepared rows (customers/importing.py reads and checks them, worker
processes prepare them with `import_row_prepare`; customers/importer.py runs the batches) imported in one
transaction, set-wise, by the API's rules."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from django.db import connection, models, transaction

from core import db
from core.errors import InvalidParameters
from core.ids import new_public_id
from core.scope import Scope
from customers import review
from customers.models import BankAccount, Customer
from customers.selectors import customers_in_scope
from customers.services.bank_accounts import set_number
from customers.services.customers import merge_metadata


@dataclass
class ImportResult:
    """What a batch did: rows created (a customer or an account), updated (the customer's fields),
    unchanged (all of it was there already), and the failed ones' errors."""

    counts: Counter = field(default_factory=Counter)
    # (row, [(column, code, message)…])
    failed: list[tuple[int, list[tuple[str, str, str]]]] = field(default_factory=list)


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
    copy_tail: str | None = None  # a new customer's COPY columns, while its row's values stand


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

    @property
    def can_receive_payouts(self) -> bool:
        return self.account_number_ciphertext != ""  # a new account is active


class PreparedAccount(NamedTuple):
    """A new account as the writer needs it: what matches it, and its COPY line but for its customer."""

    public_id: str
    fingerprint: str
    holder_name: str
    account_type: str
    can_receive_payouts: bool
    copy_tail: str


class PreparedRow(NamedTuple):
    """A checked row as the writer needs it (a tuple: cheap to send from a worker process)."""

    number: int
    external_id: str
    type: str
    country: str
    name: str
    email: str
    metadata: dict[str, str]
    public_id: str  # the customer's, if the row creates it
    copy_tail: str  # the customer's COPY line but for its id and default account
    accounts: tuple[PreparedAccount, ...]


def import_row_prepare(scope: Scope, row) -> PreparedRow:
    """A checked row (customers/importing.CheckedRow, its accounts from import_account_prepare) ready for
    customers_import_batch, its COPY text built: the part of the writing that needs no database, done
    in the import's worker processes."""
    data = row.customer
    public_id, email, metadata = new_public_id("cust"), data.get("email") or "", data.get("metadata") or {}
    accounts = tuple(
        PreparedAccount(
            account.public_id,
            account.account_number_fingerprint,
            account.holder_name,
            account.account_type,
            account.can_receive_payouts,
            _account_tail(scope, account),
        )
        for account in row.accounts
    )
    tail = _customer_tail(
        scope, public_id, data["type"], data["name"], email, data["country"], row.external_id, metadata
    )
    return PreparedRow(
        row.number,
        row.external_id,
        data["type"],
        data["country"],
        data["name"],
        email,
        metadata,
        public_id,
        tail,
        accounts,
    )


@transaction.atomic
def customers_import_batch(*, scope: Scope, rows: list[PreparedRow]) -> ImportResult:
    """Import prepared rows (import_row_prepare) in one transaction, matching customers by externalId and
    accounts by number, so importing the same rows again changes nothing.

    The API's rules, set-wise: a customer's type and country do not change; the same number twice on
    one customer is one account; a number on several customers of the merchant flags them all for
    review; the first account that can receive payouts becomes the default. Customers in the batch are
    locked, so API writes to them wait for the batch. New rows go in with COPY (a few statements a
    batch, whatever its size); a lost race for an externalId raises IntegrityError.
    """
    customers = _stored_customers(scope, {row.external_id for row in rows})
    stored = list(customers.values())
    have = _stored_accounts(stored)
    result = ImportResult()
    new_accounts: list[tuple[ImportedCustomer, PreparedAccount]] = []
    for row in rows:
        customer = customers.get(row.external_id)
        if customer is None:
            customer = customers[row.external_id] = ImportedCustomer(
                row.public_id, row.external_id, row.type, row.country, row.name, row.email, row.metadata
            )
            customer.copy_tail = row.copy_tail
            outcome = "created"
        else:
            outcome = _update_customer(row, customer, result)
            if outcome is None:
                continue
        for account in row.accounts:
            identity = (customer.public_id, *_identity(account.fingerprint, account.holder_name, account.account_type))
            if identity in have:
                continue
            have.add(identity)
            new_accounts.append((customer, account))
            if customer.default_bank_account_id is None and account.can_receive_payouts:
                customer.default_bank_account_id = account.public_id
                customer.changed = customer.changed or customer.pk is not None
            if outcome == "unchanged":
                outcome = "created"
        result.counts[outcome] += 1
    new = [customer for customer in customers.values() if customer.pk is None]
    # Every id is made here, so a new customer names its default before the account exists (the
    # foreign key is checked at commit); the accounts need their customer's primary key.
    for customer, pk in zip(new, _new_primary_keys(Customer, len(new)), strict=True):
        customer.pk = pk
    _copy_rows(Customer, CUSTOMER_COPY_COLUMNS, [_customer_line(scope, customer) for customer in new])
    _copy_rows(BankAccount, ACCOUNT_COPY_COLUMNS, [f"{c.pk}\t{a.copy_tail}\n" for c, a in new_accounts])
    _update_stored([customer for customer in stored if customer.changed])
    # The deferred foreign-key checks (four a row) run now, not at commit: from the flagging step on, the
    # batch holds its merchant's number lock, which another writer of the import may be waiting for.
    # (Deferred again after: the transaction may go on, a test's for one.)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
    review.flag_shared_numbers_imported(scope, {account.fingerprint for _, account in new_accounts} - {""})
    return result


def customers_tables_analyze() -> None:
    """Fresh planner statistics after a bulk load, of the columns that choose the plans: until autovacuum
    gets to it, a merchant that just imported many customers looks tiny to the planner, which then reads
    its lookups by id off the (merchant, mode) index, scanning all its rows (milliseconds per request
    instead of 0.1 ms), and an import's own lookups by externalId and by customer likewise."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE customers_customer (merchant_id, livemode, external_id),"
            " customers_bankaccount (merchant_id, livemode, customer_id, account_number_fingerprint)"
        )


def stored_customers_query(scope: Scope, external_ids: set[str]) -> models.QuerySet:
    """The batch's customers that exist, locked. The `external_id <> ''` is the unique index's own
    condition: PostgreSQL proves a partial index's condition from an IN list of at most 100 values, so
    without it a batch's lookup scans the merchant's customers (327 ms a batch at 1M customers)."""
    return (
        customers_in_scope(scope=scope)
        .filter(external_id__in=external_ids)
        .exclude(external_id="")
        .select_for_update()
        .values_list(
            "public_id", "external_id", "type", "country", "name", "email", "metadata", "default_bank_account_id", "pk"
        )
    )


def _stored_customers(scope: Scope, external_ids: set[str]) -> dict[str, ImportedCustomer]:
    return {values[1]: ImportedCustomer(*values) for values in stored_customers_query(scope, external_ids)}


def _stored_accounts(stored: list[ImportedCustomer]) -> set[tuple[str, str, str, str]]:
    """The identities of the stored customers' active accounts (see _identity)."""
    if not stored:
        return set()
    public_ids = {customer.pk: customer.public_id for customer in stored}
    return {
        (public_ids[customer_pk], *_identity(fingerprint, holder_name, account_type))
        for customer_pk, fingerprint, holder_name, account_type in BankAccount.objects.filter(
            customer_id__in=list(public_ids), status=BankAccount.Status.ACTIVE
        ).values_list("customer_id", "account_number_fingerprint", "holder_name", "account_type")
    }


def _update_customer(row: PreparedRow, customer: ImportedCustomer, result: ImportResult) -> str | None:
    """A row of a customer the batch has (stored, or created by an earlier row): "updated", "unchanged", or
    None when it fails (its errors added to result)."""
    errors = [
        (column, "parameter_read_only", f"{column} cannot change: this customer's is {getattr(customer, column)!r}.")
        for column in ("type", "country")
        if getattr(row, column) != getattr(customer, column)
    ]
    try:
        metadata = merge_metadata(customer.metadata, row.metadata)
    except InvalidParameters as exc:
        errors += [(error["param"], error["code"], error["message"]) for error in exc.errors]
    if errors:
        result.failed.append((row.number, errors))
        return None
    changes = {"name": row.name, "email": row.email, "metadata": metadata}
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, changes[name])
    if changed:
        customer.changed = customer.changed or customer.pk is not None
        customer.copy_tail = None  # a new customer's row values no longer stand
    return "updated" if changed else "unchanged"


def _identity(fingerprint: str, holder_name: str, account_type: str) -> tuple[str, str, str]:
    """Numbers identify accounts; an account without one is the same when holder and type are."""
    return (fingerprint, "", "") if fingerprint else ("", holder_name, account_type)


def import_account_prepare(data: dict[str, Any], *, customer_type: str) -> ImportedAccount:
    """A checked row's account (BankAccountCreateInput's data), its number encrypted: the CPU-heavy part of
    importing it, done in the import's worker processes."""
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


# The COPY columns, in COPY's text format: the ones the writer fills first (ids known only in the batch),
# then the row's own, prepared by the worker processes. Every other column gets its model default
# (_copy_rows).
CUSTOMER_COPY_COLUMNS = (
    "id",
    "default_bank_account_public_id",
    "public_id",
    "merchant_id",
    "livemode",
    "type",
    "name",
    "email",
    "country",
    "external_id",
    "metadata",
)
ACCOUNT_COPY_COLUMNS = (
    "customer_id",
    "public_id",
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


def _customer_line(scope: Scope, customer: ImportedCustomer) -> str:
    tail = customer.copy_tail
    if tail is None:
        tail = _customer_tail(
            scope,
            customer.public_id,
            customer.type,
            customer.name,
            customer.email,
            customer.country,
            customer.external_id,
            customer.metadata,
        )
    return f"{customer.pk}\t{_text(customer.default_bank_account_id)}\t{tail}\n"


# Public ids, key ids, fingerprints, ciphertexts (URL-safe base64) and the checked choices and codes (type,
# country, currency, rail, account type, kind, entity code) never hold what COPY's text format escapes.
def _customer_tail(
    scope: Scope,
    public_id: str,
    type_: str,
    name: str,
    email: str,
    country: str,
    external_id: str,
    metadata: dict[str, str],
) -> str:
    livemode = "t" if scope.livemode else "f"
    return (
        f"{public_id}\t{scope.merchant_id}\t{livemode}\t{type_}\t{_text(name)}\t{_text(email)}\t{country}\t"
        f"{_text(external_id)}\t{_json(metadata)}"
    )


def _account_tail(scope: Scope, account: ImportedAccount) -> str:
    livemode, review = "t" if scope.livemode else "f", "t" if account.needs_review else "f"
    return (
        f"{account.public_id}\t{scope.merchant_id}\t{livemode}\t{account.country}\t{account.currency}\t"
        f"{account.rail}\t{account.account_type}\t{_text(account.holder_name)}\t{account.account_number_ciphertext}\t"
        f"{account.account_number_key_id}\t{account.account_number_fingerprint}\t{account.account_number_last4}\t"
        f"{account.account_kind}\t{account.entity_code}\t{review}\t{_text(account.review_reason)}\t"
        f"{_json(account.metadata)}"
    )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str | bool | None) -> str:
    """A value in COPY's text format: \\N is NULL; backslash, tab and line ends escaped."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _json(value: dict[str, str]) -> str:
    return _text(orjson.dumps(value).decode()) if value else "{}"


def _new_primary_keys(model: type[models.Model], count: int) -> list[int]:
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def _copy_rows(model: type[models.Model], columns: tuple[str, ...], lines: list[str]) -> None:
    """INSERT lines of COPY text for columns; the model's other columns get their defaults, worked out once
    (created_at: one second for the batch). COPY into a temporary table, then INSERT … SELECT into the
    model's, a statement the audit trail's triggers see with its actor (pghistory sets it on statements
    sent through Django, which COPY is not). Either psycopg driver (core.db.copy_in)."""
    if not lines:
        return
    fields = {f.column: f for f in model._meta.concrete_fields}
    others = [f for f in fields.values() if f.column not in columns and not f.primary_key]
    quote = connection.ops.quote_name
    parts = {
        "table": quote(model._meta.db_table),
        "staging": quote(f"import_{model._meta.db_table}"),
        "names": ", ".join(map(quote, columns)),
        "defaults": ", ".join(["%s"] * len(others)),
    }
    parts["others"] = ", ".join(quote(f.column) for f in others)
    with connection.cursor() as cursor:
        cursor.execute(STAGE.format(**parts))
        db.copy_in(cursor, COPY.format(**parts), _Lines(lines))
        cursor.execute(STAGED_INSERT.format(**parts), [f.get_db_prep_save(f.get_default(), connection) for f in others])


# One temporary table per model and connection, emptied for each batch (and at commit).
STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS SELECT {names} FROM {table} WITH NO DATA;
TRUNCATE {staging}
"""
COPY = "COPY {staging} ({names}) FROM STDIN"
STAGED_INSERT = "INSERT INTO {table} ({names}, {others}) SELECT {names}, {defaults} FROM {staging}"


class _Lines:
    """COPY's input, read from a list of lines without joining them all first."""

    def __init__(self, lines: list[str]):
        self.lines, self.at = lines, 0

    def read(self, size: int = -1) -> str:
        if self.at >= len(self.lines):
            return ""
        end = len(self.lines) if size < 0 else self.at + max(1, size // 400)  # ~400 characters a line
        chunk = "".join(self.lines[self.at : end])
        self.at = end
        return chunk


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
