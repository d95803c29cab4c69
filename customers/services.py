import csv
import io
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from psycopg2 import sql as pgsql

from core import crypto, db
from core.errors import Conflict, InvalidParameters, ResourceMissing
from core.ids import is_public_id, new_public_id
from core.metadata import METADATA_MAX_KEYS
from core.scope import Scope
from customers import signals
from customers.accounts import AccountNumber, tax_id_review_reason
from customers.models import BankAccount, Customer
from customers.selectors import customers_in_scope

UNSET: Any = object()


class CustomerExternalIdExists(Conflict):
    code = "customer_external_id_exists"


def customer_create(
    *,
    scope: Scope,
    type: str,
    name: str,
    country: str,
    email: str | None = None,
    external_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Customer:
    """A new customer. externalId is unique per merchant and mode: a taken one is a 409 naming its
    customer (two creates racing for one are decided by the unique index: see core.db)."""
    if external_id is not None:
        _refuse_taken_external_id(scope, external_id)
    customer = Customer(
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        type=type,
        name=name,
        country=country,
        email=email or "",
        external_id=external_id or "",
        metadata=metadata or {},
    )
    db.insert(customer)  # in the API, with the request's other writes (core.db)
    return customer


def _refuse_taken_external_id(scope: Scope, external_id: str, *, other_than: int | None = None) -> None:
    taken = (
        customers_in_scope(scope=scope)
        .filter(external_id=external_id)
        .exclude(pk=other_than)
        .values_list("public_id", flat=True)[:1]
    )
    for customer_id in taken:
        raise CustomerExternalIdExists(
            f"Another customer already has this externalId: {customer_id}.",
            param="externalId",
            extra={"customerId": customer_id},
        )


@transaction.atomic
def customer_verification_set(*, customer: Customer, status: str, reviewer, reason: str = "") -> Customer:
    """Compliance's decision on a customer: verified, or rejected (with a reason), by a reviewer, now.
    A rejected customer can no longer be paid, and its pending payouts fail in this transaction
    (signals.customer_rejected; the rule is payouts.stops)."""
    reason = reason.strip()
    if status == Customer.Verification.REJECTED and not reason:
        raise InvalidParameters.single("reason", "parameter_missing", "A rejection needs a reason.")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer.verification_status = status
    customer.verification_reason = reason
    customer.verification_reviewer = reviewer
    customer.verification_reviewed_at = timezone.now()
    customer.save(
        update_fields=[
            "verification_status",
            "verification_reason",
            "verification_reviewer",
            "verification_reviewed_at",
        ]
    )
    if status == Customer.Verification.REJECTED:
        signals.customer_rejected.send(sender=Customer, customer=customer)
    return customer


def merge_metadata(current: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """Stripe's rule: PATCHed keys are set, keys PATCHed to null are removed, the rest stay."""
    merged = {**current, **{key: value for key, value in changes.items() if value is not None}}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
    if len(merged) > METADATA_MAX_KEYS:
        raise InvalidParameters.single(
            "metadata", "metadata_too_many_keys", f"metadata may have at most {METADATA_MAX_KEYS} keys."
        )
    return merged


@transaction.atomic(savepoint=False)
def customer_update(
    *,
    customer: Customer,
    name: str = UNSET,
    email: str | None = UNSET,
    external_id: str | None = UNSET,
    metadata: dict[str, str | None] = UNSET,
    default_bank_account_id: str | None = UNSET,
) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changed = []
    if external_id is not UNSET:
        if external_id is not None:
            _refuse_taken_external_id(customer.scope, external_id, other_than=customer.pk)
        customer.external_id = external_id or ""
        changed.append("external_id")
    if name is not UNSET:
        customer.name = name
        changed.append("name")
    if email is not UNSET:
        customer.email = email or ""
        changed.append("email")
    if metadata is not UNSET:
        customer.metadata = merge_metadata(customer.metadata, metadata)
        changed.append("metadata")
    if default_bank_account_id is not UNSET:
        customer.default_bank_account = _default_candidate(customer, default_bank_account_id)
        changed.append("default_bank_account")
    if changed:
        _save_customer(customer, changed)
    return customer


def _save_customer(customer: Customer, changed: list[str]) -> None:
    if "external_id" not in changed or not customer.external_id:
        customer.save(update_fields=changed)
        return
    try:
        with transaction.atomic():  # a savepoint: a lost race for the externalId still gets its 409
            customer.save(update_fields=changed)
    except IntegrityError:
        _refuse_taken_external_id(customer.scope, customer.external_id, other_than=customer.pk)
        raise


def _default_candidate(customer: Customer, bank_account_id: str | None) -> BankAccount | None:
    if bank_account_id is None:
        return None
    account = None
    if is_public_id(bank_account_id, "ba"):
        account = customer.bank_accounts.filter(public_id=bank_account_id).first()
    if account is None or not account.can_receive_payouts:
        raise InvalidParameters.single(
            "defaultBankAccountId",
            "invalid_default_bank_account",
            "defaultBankAccountId must be one of this customer's active bank accounts with an account number.",
        )
    return account


class BankAccountExists(Conflict):
    code = "bank_account_exists"


SHARED_NUMBER_REASON = "Account number also belongs to another customer of this merchant."


def bank_account_add(
    *,
    scope: Scope,
    customer_id: str,
    account_type: str,
    holder_name: str,
    account_number: AccountNumber | None = None,
    metadata: dict[str, str] | None = None,
) -> BankAccount:
    """Add an account to the scope's customer; its first account that can receive payouts becomes the default.

    One read (the customer, and whether it has this number), then the writes, together (core.db).
    Two adds of one number to one customer racing each other both pass the duplicate check, and the
    partial unique index on (customer, fingerprint) stops the second (the API then runs that request
    again, and it answers 409). The default is set only where it is still empty, so of two first
    accounts racing, the first to commit becomes the default. A number on several customers of the
    merchant is allowed and flags all its accounts for review, decided in the database under a lock on
    the number, so two customers adding one number at once are both flagged.
    """
    account = BankAccount(
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        account_type=account_type,
        holder_name=holder_name,
        metadata=metadata or {},
    )
    if account_number is not None:
        _set_number(account, account_number)
    found = _customer_and_same_number(scope, customer_id, account.account_number_fingerprint)
    account.customer_id = found.customer_pk
    _review_tax_id(account, found.customer_type)
    if found.existing_account_id is not None:
        raise BankAccountExists(
            f"This customer already has this account number: {found.existing_account_id}.",
            param="accountNumber",
            extra={"bankAccountId": found.existing_account_id},
        )
    with db.write_batch():
        db.insert(account)
        if account.account_number_fingerprint:
            _flag_shared_numbers(scope, [account.account_number_fingerprint])
        if found.default_id is None and account.can_receive_payouts:
            db.update(
                Customer.objects.filter(pk=found.customer_pk, default_bank_account__isnull=True),
                default_bank_account_id=account.public_id,
            )
    return account


@dataclass(frozen=True)
class CustomerForNewAccount:
    customer_pk: int
    default_id: str | None
    customer_type: str
    existing_account_id: str | None  # this customer's active account with the same number


def _review_tax_id(account: BankAccount, customer_type: str) -> None:
    reason = tax_id_review_reason(customer_type, account.metadata)
    if reason:
        account.needs_review, account.review_reason = True, reason


# The customer, its default, and this customer's active account with the number. Plain SQL: the ORM
# takes longer to build this query than PostgreSQL takes to plan and run it (bench/run.py).
CUSTOMER_AND_SAME_NUMBER = """
SELECT c.id, c.default_bank_account_public_id, c.type,
       (SELECT b.public_id FROM customers_bankaccount b
         WHERE b.customer_id = c.id AND b.account_number_fingerprint = %(fingerprint)s
           AND b.status = %(active)s AND %(fingerprint)s <> ''
         LIMIT 1)
  FROM customers_customer c
 WHERE c.public_id = %(customer_id)s AND c.merchant_id = %(merchant_id)s AND c.livemode = %(livemode)s
"""


def _customer_and_same_number(scope: Scope, customer_id: str, fingerprint: str) -> CustomerForNewAccount:
    """fingerprint is empty for an account without a number: no duplicates then."""
    if not is_public_id(customer_id, "cust"):
        raise _no_such_customer(customer_id)
    with connection.cursor() as cursor:
        cursor.execute(
            CUSTOMER_AND_SAME_NUMBER,
            {
                "customer_id": customer_id,
                "merchant_id": scope.merchant_id,
                "livemode": scope.livemode,
                "fingerprint": fingerprint,
                "active": BankAccount.Status.ACTIVE.value,
            },
        )
        found = cursor.fetchone()
    if found is None:
        raise _no_such_customer(customer_id)
    return CustomerForNewAccount(*found)


def _no_such_customer(customer_id: str) -> ResourceMissing:
    return ResourceMissing(f"No such customer: {customer_id[:64]!r}.", param="customerId")


def _set_number(account: BankAccount, number: AccountNumber) -> None:
    account.account_number_ciphertext = crypto.encrypt(number.digits)
    account.account_number_key_id = crypto.primary_key_id()
    account.account_number_fingerprint = crypto.fingerprint(number.digits)
    account.account_number_last4 = number.last4
    account.account_kind = number.kind
    account.entity_code = number.entity_code


# Flags every account of the number if more than one customer of the merchant (same mode) has had it: the
# database function customers_flag_shared_number (migrations 0004/0005) does it under a lock on the number
# held to commit, so two customers adding one number at once are both flagged; its plan is cached per
# connection (planning the UPDATE cost 0.2 ms on every add).


def _flag_shared_numbers(scope: Scope, fingerprints: list[str]) -> None:
    """After the accounts are written (in the same transaction). Sorted: two writers cannot deadlock."""
    for fingerprint in sorted(fingerprints):
        lock = db.advisory_lock_id("number", scope.merchant_id, scope.livemode, fingerprint)
        db.execute(
            "SELECT customers_flag_shared_number(%s, %s, %s, %s, %s)",
            (scope.merchant_id, scope.livemode, fingerprint, SHARED_NUMBER_REASON, lock),
        )


@transaction.atomic
def bank_account_update(
    *,
    account: BankAccount,
    holder_name: str = UNSET,
    metadata: dict[str, str | None] = UNSET,
) -> BankAccount:
    account = BankAccount.objects.select_for_update().get(pk=account.pk)
    changed = []
    if holder_name is not UNSET and holder_name != account.holder_name:
        account.holder_name, account.details_changed_at = holder_name, timezone.now()
        changed += ["holder_name", "details_changed_at"]
    if metadata is not UNSET:
        account.metadata = merge_metadata(account.metadata, metadata)
        changed.append("metadata")
    if changed:
        account.save(update_fields=changed)
    return account


@transaction.atomic
def bank_account_disable(*, account: BankAccount) -> BankAccount:
    """Keep the account for history, stop it receiving payouts, and drop it as the default. Its pending
    payouts fail in this transaction (signals.bank_account_disabled; the rule is payouts.stops)."""
    customer = Customer.objects.select_for_update().get(pk=account.customer_id)
    account = BankAccount.objects.select_for_update().get(pk=account.pk)
    if account.status == BankAccount.Status.ACTIVE:
        account.status = BankAccount.Status.DISABLED
        account.disabled_at = timezone.now()
        account.save(update_fields=["status", "disabled_at"])
    if customer.default_bank_account_id == account.public_id:
        customer.default_bank_account = None
        customer.save(update_fields=["default_bank_account"])
    signals.bank_account_disabled.send(sender=BankAccount, account=account)
    return account


def bank_account_numbers_rotate_batch(*, batch_size: int) -> int:
    """Re-encrypt up to batch_size account numbers not yet under the primary key; returns how many.

    Each batch is its own transaction and skips rows another rotator holds, so the rotation can be
    stopped, resumed, or run from several processes at once.
    """
    primary = crypto.primary_key_id()
    with transaction.atomic():
        accounts = list(
            BankAccount.objects.select_for_update(skip_locked=True)
            .exclude(account_number_ciphertext="")
            .exclude(account_number_key_id=primary)
            .order_by("pk")
            .only("pk", "account_number_ciphertext", "account_number_key_id")[:batch_size]
        )
        for account in accounts:
            account.account_number_ciphertext = crypto.rotate(account.account_number_ciphertext)
            account.account_number_key_id = primary
        BankAccount.objects.bulk_update(accounts, ["account_number_ciphertext", "account_number_key_id"])
    return len(accounts)


# Bulk import (customers/importing.py reads and checks the rows; management command import_customers)


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
    """A new account of the batch. Its attribute names are BankAccount's: _set_number and _review_tax_id
    fill it as they fill a model instance, so the API and the import derive the same columns."""

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
    _flag_imported_numbers(scope, {account.account_number_fingerprint for account in accounts} - {""})
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
        _set_number(account, data["account_number"])
    _review_tax_id(account, customer_type)  # a row of another type than its stored customer's fails
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
    (created_at: one second for the batch). PostgreSQL: COPY into a temporary table, then INSERT … SELECT
    into the model's, a statement the audit trail's triggers see with its actor (pghistory sets it on
    statements sent through Django, which COPY is not)."""
    if not rows:
        return
    fields = {f.column: f for f in model._meta.concrete_fields}
    others = [f for f in fields.values() if f.column not in columns and not f.primary_key]
    json_at = [i for i, column in enumerate(columns) if isinstance(fields[column], models.JSONField)]
    parts = {
        "table": pgsql.Identifier(model._meta.db_table),
        "staging": pgsql.Identifier(f"import_{model._meta.db_table}"),
        "names": pgsql.SQL(", ").join(map(pgsql.Identifier, columns)),
        "others": pgsql.SQL(", ").join(pgsql.Identifier(f.column) for f in others),
        "defaults": pgsql.SQL(", ").join(pgsql.Placeholder() * len(others)),
    }
    with connection.cursor() as cursor:

        def statement(text: str) -> str:
            return pgsql.SQL(text).format(**parts).as_string(cursor.cursor)

        cursor.execute(statement(STAGE))
        cursor.copy_expert(statement("COPY {staging} FROM STDIN WITH (FORMAT csv)"), _csv(rows, json_at), 1 << 16)
        cursor.execute(statement(STAGED_INSERT), [f.get_db_prep_save(f.get_default(), connection) for f in others])


# One temporary table per model and connection, emptied for each batch (and at commit).
STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS SELECT {names} FROM {table} WITH NO DATA;
TRUNCATE {staging}
"""
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


# The batch's numbers, locked as bank_account_add locks one (in order: two imports cannot deadlock), then
# those now on more than one customer of the merchant; usually none, so customers_flag_shared_number
# (which flags them, see _flag_shared_numbers) runs only for those.
LOCK_NUMBERS_AND_FIND_SHARED = """
SELECT pg_advisory_xact_lock(lock) FROM unnest(%s::bigint[]) AS lock;
SELECT f.fingerprint FROM unnest(%s::text[]) AS f(fingerprint)
 WHERE (SELECT COUNT(DISTINCT b.customer_id) FROM customers_bankaccount b
         WHERE b.merchant_id = %s AND b.livemode = %s AND b.account_number_fingerprint = f.fingerprint) > 1
"""


def _flag_imported_numbers(scope: Scope, fingerprints: set[str]) -> None:
    numbers = sorted(fingerprints)
    if numbers:
        locks = [db.advisory_lock_id("number", scope.merchant_id, scope.livemode, number) for number in numbers]
        with connection.cursor() as cursor:
            # One probe of the fingerprint index per number: an "= ANY" filter lets a planner with stale
            # statistics scan the merchant's every account instead.
            cursor.execute(LOCK_NUMBERS_AND_FIND_SHARED, [locks, numbers, scope.merchant_id, scope.livemode])
            numbers = [number for (number,) in cursor.fetchall()]
    with db.write_batch():
        _flag_shared_numbers(scope, numbers)
