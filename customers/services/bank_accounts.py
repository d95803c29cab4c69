"""Bank accounts: add (numbers checked, encrypted, matched), change, disable. When an account needs review
is customers.review's to say."""

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from audit.context import actor
from core import crypto, db
from core.errors import Conflict, InvalidParameters, ResourceMissing
from core.ids import is_public_id
from core.scope import Scope
from customers import review, signals
from customers.accounts import AccountNumber
from customers.models import BankAccount, Customer
from customers.representations import bank_account_to_dict, customer_to_dict
from customers.selectors import CUSTOMER_FIELDS
from customers.services.customers import UNSET, customer_record_change, merge_metadata
from events.services import changed, event_record

DEFAULT_IS = "EXISTS (SELECT 1 FROM customers_customer WHERE id = %s AND default_bank_account_public_id = %s)"


class BankAccountExists(Conflict):
    code = "bank_account_exists"


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
        set_number(account, account_number)
    found = _customer_and_same_number(scope, customer_id, account.account_number_fingerprint)
    account.customer_id = found.customer_pk
    review.review_new_account(account, found.customer_type)
    if found.existing_account_id is not None:
        raise BankAccountExists(
            f"This customer already has this account number: {found.existing_account_id}.",
            param="accountNumber",
            extra={"bankAccountId": found.existing_account_id},
        )
    with db.write_batch():
        db.insert(account)
        if account.account_number_fingerprint:
            review.flag_shared_number(scope, account.account_number_fingerprint)
        event_record(scope=scope, type="bank_account.created", obj=bank_account_to_dict(account, customer_id))
        if found.default_id is None and account.can_receive_payouts:
            db.update(
                Customer.objects.filter(pk=found.customer_pk, default_bank_account__isnull=True),
                default_bank_account_id=account.public_id,
            )
            customer = Customer.objects.only(*CUSTOMER_FIELDS).get(pk=found.customer_pk)
            before = customer_to_dict(customer)
            customer.default_bank_account_id = account.public_id
            # Of two first accounts racing, only the one that became the default has this event.
            became_default = (DEFAULT_IS, (found.customer_pk, account.public_id))
            customer_record_change(customer, before, only_if=became_default)
    return account


@dataclass(frozen=True)
class CustomerForNewAccount:
    customer_pk: int
    default_id: str | None
    customer_type: str
    existing_account_id: str | None  # this customer's active account with the same number


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


def set_number(account: BankAccount, number: AccountNumber) -> None:
    account.account_number_ciphertext = crypto.encrypt(number.digits)
    account.account_number_key_id = crypto.primary_key_id()
    account.account_number_fingerprint = crypto.fingerprint(number.digits)
    account.account_number_last4 = number.last4
    account.account_kind = number.kind
    account.entity_code = number.entity_code


@transaction.atomic
def bank_account_update(
    *,
    account: BankAccount,
    holder_name: str = UNSET,
    metadata: dict[str, str | None] = UNSET,
) -> BankAccount:
    account = BankAccount.objects.select_for_update().get(pk=account.pk)
    customer_id = account.customer.public_id
    before = bank_account_to_dict(account, customer_id)
    changed_fields = []
    if holder_name is not UNSET and holder_name != account.holder_name:
        account.holder_name, account.details_changed_at = holder_name, timezone.now()
        changed_fields += ["holder_name", "details_changed_at"]
    if metadata is not UNSET:
        account.metadata = merge_metadata(account.metadata, metadata)
        changed_fields.append("metadata")
    if changed_fields:
        account.save(update_fields=changed_fields)
        after = bank_account_to_dict(account, customer_id)
        if previous := changed(before, after):
            event_record(scope=account.scope, type="bank_account.updated", obj=after, previous=previous)
    return account


@transaction.atomic
def bank_account_review_clear(*, account: BankAccount, staff, reason: str) -> BankAccount:
    """Compliance looked at a flagged account and found nothing wrong: the flag goes, with the analyst's
    reason in the audit trail (the flag's reasons stay in the account's history there). A new rule match
    flags it again (customers.review)."""
    reason = reason.strip()
    if not reason:
        raise InvalidParameters.single("reason", "parameter_missing", "Clearing a review flag needs a reason.")
    account = BankAccount.objects.select_for_update().get(pk=account.pk)
    if account.needs_review:
        with actor(f"staff:{staff.get_username()}", decision="clear review", reason=reason):
            account.needs_review, account.review_reason = False, ""
            account.save(update_fields=["needs_review", "review_reason"])
            account.flagged_at = None  # what the database's trigger made it (customers.review)
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
        event_record(
            scope=account.scope,
            type="bank_account.disabled",
            obj=bank_account_to_dict(account, customer.public_id),
            previous={"status": BankAccount.Status.ACTIVE.value},
        )
    if customer.default_bank_account_id == account.public_id:
        before = customer_to_dict(customer)
        customer.default_bank_account = None
        customer.save(update_fields=["default_bank_account"])
        customer_record_change(customer, before)
    signals.bank_account_disabled.send(sender=BankAccount, account=account)
    return account
