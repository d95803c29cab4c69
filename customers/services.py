from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers.accounts import AccountNumber, tax_id_review_reason
from customers.models import BankAccount, Customer
from customers.selectors import customers_in_scope
from merchants.models import Scope
from payoutsite import crypto, db
from payoutsite.api.errors import Conflict, InvalidParameters, ResourceMissing
from payoutsite.api.ids import is_public_id, new_public_id
from payoutsite.api.serializers import METADATA_MAX_KEYS

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
    customer (two creates racing for one are decided by the unique index: see payoutsite.db)."""
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
    db.insert(customer)  # in the API, with the request's other writes (payoutsite.db)
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
    A rejected customer can no longer receive live payouts (payouts.services)."""
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

    One read (the customer, and whether it has this number), then the writes, together (payoutsite.db).
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


# Flags every account of the number if more than one customer of the merchant (same mode) has had it. On
# PostgreSQL the database function of the same name (migration 0004) does this under a lock on the number
# held to commit, so two customers adding one number at once are both flagged; its plan is cached per
# connection (planning this UPDATE cost 0.2 ms on every add). SQLite (make run) has one writer at a time.
FLAG_SHARED_NUMBER = """
UPDATE customers_bankaccount
   SET needs_review = TRUE,
       review_reason = CASE WHEN review_reason = '' THEN %s ELSE review_reason || '; ' || %s END
 WHERE merchant_id = %s AND livemode = %s AND account_number_fingerprint = %s AND instr(review_reason, %s) = 0
   AND EXISTS (SELECT 1 FROM customers_bankaccount other
                WHERE other.merchant_id = customers_bankaccount.merchant_id
                  AND other.livemode = customers_bankaccount.livemode
                  AND other.account_number_fingerprint = customers_bankaccount.account_number_fingerprint
                  AND other.customer_id <> customers_bankaccount.customer_id)
"""


def _flag_shared_numbers(scope: Scope, fingerprints: list[str]) -> None:
    """After the accounts are written (in the same transaction). Sorted: two writers cannot deadlock."""
    for fingerprint in sorted(fingerprints):
        if connection.vendor == "postgresql":
            lock = db.advisory_lock_id("number", scope.merchant_id, scope.livemode, fingerprint)
            db.execute(
                "SELECT customers_flag_shared_number(%s, %s, %s, %s, %s)",
                (scope.merchant_id, scope.livemode, fingerprint, SHARED_NUMBER_REASON, lock),
            )
        else:
            reason = SHARED_NUMBER_REASON
            db.execute(FLAG_SHARED_NUMBER, (reason, reason, scope.merchant_id, scope.livemode, fingerprint, reason))


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
    """Keep the account for history, stop it receiving payouts, and drop it as the default."""
    customer = Customer.objects.select_for_update().get(pk=account.customer_id)
    account = BankAccount.objects.select_for_update().get(pk=account.pk)
    if account.status == BankAccount.Status.ACTIVE:
        account.status = BankAccount.Status.DISABLED
        account.disabled_at = timezone.now()
        account.save(update_fields=["status", "disabled_at"])
    if customer.default_bank_account_id == account.public_id:
        customer.default_bank_account = None
        customer.save(update_fields=["default_bank_account"])
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


IMPORT_UPDATABLE = ("name", "email", "metadata")


@transaction.atomic
def customers_import_batch(*, scope: Scope, rows: list) -> list[ImportOutcome]:
    """Import checked rows (customers/importing.CheckedRow) in one transaction, matching customers by
    externalId and accounts by number, so importing the same rows again changes nothing.

    The API's rules, set-wise: a customer's type and country do not change; the same number twice on
    one customer is one account; a number on several customers of the merchant flags them all for
    review; the first account that can receive payouts becomes the default. Customers in the batch are
    locked, so API writes to them wait for the batch.
    """
    external_ids = {row.external_id for row in rows}
    customers = {
        customer.external_id: customer
        for customer in customers_in_scope(scope=scope).filter(external_id__in=external_ids).select_for_update()
    }
    existing = [customer.pk for customer in customers.values()]
    outcomes = [_import_customer(scope, row, customers) for row in rows]
    accounts = _import_accounts(scope, rows, customers, outcomes, existing)
    numbers = sorted({account.account_number_fingerprint for _, account in accounts} - {""})
    given_a_default = _set_first_defaults(accounts)
    # Every id is made here, so a new customer can name its default before either row exists (the
    # foreign keys are checked at commit); the accounts need their customer's primary key.
    Customer.objects.bulk_create([customer for customer in customers.values() if customer.pk is None])
    for customer, account in accounts:
        account.customer_id = customer.pk
    BankAccount.objects.bulk_create([account for _, account in accounts])
    Customer.objects.bulk_update([c for c in given_a_default if c.pk in existing], ["default_bank_account"])
    with db.write_batch():
        _flag_shared_numbers(scope, numbers)
    return outcomes


def _import_customer(scope: Scope, row, customers: dict[str, Customer]) -> ImportOutcome:
    data = row.customer
    customer = customers.get(row.external_id)
    if customer is None:
        customers[row.external_id] = Customer(
            public_id=new_public_id("cust"),
            merchant_id=scope.merchant_id,
            livemode=scope.livemode,
            type=data["type"],
            name=data["name"],
            country=data["country"],
            email=data.get("email") or "",
            external_id=row.external_id,
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
    if changed and customer.pk is not None:
        customer.save(update_fields=changed)
    return ImportOutcome(row.number, "updated" if changed else "unchanged")


def _import_accounts(
    scope: Scope, rows: list, customers: dict[str, Customer], outcomes: list[ImportOutcome], existing: list[int]
) -> list[tuple[Customer, BankAccount]]:
    """The rows' accounts that are not there yet, each with its customer."""
    have = {
        (customer_pk, *_identity(fingerprint, holder_name, account_type))
        for customer_pk, fingerprint, holder_name, account_type in BankAccount.objects.filter(
            customer_id__in=existing, status=BankAccount.Status.ACTIVE
        ).values_list("customer_id", "account_number_fingerprint", "holder_name", "account_type")
    }
    new: list[tuple[Customer, BankAccount]] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        if outcome.result == "failed":
            continue
        customer = customers[row.external_id]
        for data in row.accounts:
            account = _new_account(scope, data)
            _review_tax_id(account, customer.type)
            identity = (
                _key(customer),
                *_identity(account.account_number_fingerprint, account.holder_name, account.account_type),
            )
            if identity in have:
                continue
            have.add(identity)
            new.append((customer, account))
            if outcome.result == "unchanged":
                outcome.result = "created"
    return new


def _key(customer: Customer) -> int | tuple[str, int]:
    """A customer's identity in a batch: its pk, or for one not inserted yet, the object itself."""
    return customer.pk if customer.pk is not None else ("new", id(customer))


def _identity(fingerprint: str, holder_name: str, account_type: str) -> tuple[str, str, str]:
    """Numbers identify accounts; an account without one is the same when holder and type are."""
    return (fingerprint, "", "") if fingerprint else ("", holder_name, account_type)


def _new_account(scope: Scope, data: dict) -> BankAccount:
    account = BankAccount(
        public_id=new_public_id("ba"),
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        account_type=data["account_type"],
        holder_name=data["holder_name"],
        metadata=data.get("metadata") or {},
    )
    if data.get("account_number") is not None:
        _set_number(account, data["account_number"])
    return account


def _set_first_defaults(accounts: list[tuple[Customer, BankAccount]]) -> list[Customer]:
    """Customers without a default get their first new account that can receive payouts."""
    given = []
    for customer, account in accounts:
        if customer.default_bank_account_id is None and account.can_receive_payouts:
            customer.default_bank_account_id = account.public_id
            given.append(customer)
    return given
