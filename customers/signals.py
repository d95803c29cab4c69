"""Decisions that other apps act on inside the same transaction (payouts fail what a decision stops).

Sent by the deciding service inside its transaction, so the receivers' writes commit with the decision or
not at all. The customers app knows nothing of its receivers (payouts connects them in payouts.apps).
"""

from django.dispatch import Signal

customer_rejected = Signal()  # customer=Customer, locked, rejected
bank_account_disabled = Signal()  # account=BankAccount, locked, disabled
