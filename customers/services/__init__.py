"""The customers app's writes, by concern: customers, bank accounts, key rotation, the importer's batches.
`from customers.services import X` is the way in for the rest of the code base."""

from customers.services.bank_accounts import (
    BankAccountExists,
    bank_account_add,
    bank_account_disable,
    bank_account_review_clear,
    bank_account_update,
)
from customers.services.customers import (
    UNSET,
    CustomerExternalIdExists,
    customer_create,
    customer_update,
    customer_verification_set,
    merge_metadata,
)
from customers.services.encryption import bank_account_numbers_rotate_batch
from customers.services.importing import (
    ImportedAccount,
    ImportResult,
    PreparedRow,
    customers_import_batch,
    customers_tables_analyze,
    import_account_prepare,
    import_row_prepare,
)

__all__ = [
    "UNSET",
    "BankAccountExists",
    "CustomerExternalIdExists",
    "ImportResult",
    "ImportedAccount",
    "PreparedRow",
    "bank_account_add",
    "bank_account_disable",
    "bank_account_numbers_rotate_batch",
    "bank_account_review_clear",
    "bank_account_update",
    "customer_create",
    "customer_update",
    "customer_verification_set",
    "customers_import_batch",
    "customers_tables_analyze",
    "import_account_prepare",
    "import_row_prepare",
    "merge_metadata",
]
