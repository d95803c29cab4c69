"""Rails send payouts to the banking system. A rail is idempotent on the payout id, and can say what it
did with a payout id, so that a worker that died mid-send asks instead of sending again.

The built-in sandbox rail settles at once and deterministically, for test mode only: no code path sends a
live payout through it. Live mode has no rail until a real bank rail is added (PAYOUT_LIVE_RAIL): until
then the worker never claims a live payout, so none is ever reported paid. The sandbox's magic account
numbers (valid CBUs) fail with each failure code; any other number is paid.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils import timezone
from stdnum.ar import cbu

from payouts.models import SandboxTransfer

PAID = "paid"
FAILED = "failed"


@dataclass(frozen=True)
class Instruction:
    payout_id: str
    amount: Decimal
    currency: str
    account_number: str

    def __repr__(self) -> str:  # never the whole number
        return f"Instruction({self.payout_id}, {self.amount} {self.currency}, …{self.account_number[-4:]})"


@dataclass(frozen=True)
class Outcome:
    status: str  # PAID or FAILED
    failure_code: str = ""
    failure_message: str = ""


class Rail(Protocol):
    name: str

    def send(self, instructions: list[Instruction]) -> dict[str, Outcome]:
        """Send these payouts; returns each one's outcome by payout id. Sending an id twice sends it once."""
        ...

    def lookup(self, payout_ids: list[str]) -> dict[str, Outcome]:
        """The outcome of each payout id the rail has received; ids it never received are absent."""
        ...


def _magic(account_block: str) -> str:
    block1 = "2850590"
    return block1 + cbu.calc_check_digit(block1) + account_block + cbu.calc_check_digit(account_block)


SANDBOX_FAILURES: dict[str, tuple[str, str]] = {
    _magic("0000000000001"): ("invalid_account_number", "The bank does not recognise this account number."),
    _magic("0000000000002"): ("account_closed", "The destination account is closed."),
    _magic("0000000000003"): ("holder_mismatch", "The account holder does not match the beneficiary."),
    _magic("0000000000004"): ("bank_rejected", "The destination bank rejected the transfer."),
    _magic("0000000000005"): ("could_not_process", "The transfer could not be processed; try again later."),
}


class SandboxRail:
    name = "sandbox"

    def send(self, instructions: list[Instruction]) -> dict[str, Outcome]:
        now = timezone.now()
        transfers = [
            SandboxTransfer(payout_public_id=instruction.payout_id, received_at=now, **self._settle(instruction))
            for instruction in instructions
        ]
        SandboxTransfer.objects.bulk_create(transfers, ignore_conflicts=True)  # a resend keeps the first outcome
        return self.lookup([instruction.payout_id for instruction in instructions])

    def lookup(self, payout_ids: list[str]) -> dict[str, Outcome]:
        rows = SandboxTransfer.objects.filter(payout_public_id__in=payout_ids).values_list(
            "payout_public_id", "status", "failure_code", "failure_message"
        )
        return {payout_id: Outcome(status, code, message) for payout_id, status, code, message in rows}

    @staticmethod
    def _settle(instruction: Instruction) -> dict[str, str]:
        failure = SANDBOX_FAILURES.get(instruction.account_number)
        if failure is None:
            return {"status": PAID}
        return {"status": FAILED, "failure_code": failure[0], "failure_message": failure[1]}


# Live rails by PAYOUT_LIVE_RAIL name: none yet (a real bank's rail goes here, never the sandbox).
LIVE_RAILS: dict[str, type] = {}


class NoLiveRail(RuntimeError):
    """Live mode has no bank rail: live payouts must wait, never go through the sandbox."""


def live_rail_configured() -> bool:
    return settings.PAYOUT_LIVE_RAIL in LIVE_RAILS


def rail_for(livemode: bool) -> Rail:
    """Test mode uses the sandbox; live mode only a real bank rail (PAYOUT_LIVE_RAIL), else NoLiveRail."""
    if not livemode:
        return SandboxRail()
    if not live_rail_configured():
        raise NoLiveRail("No live bank rail is configured (PAYOUT_LIVE_RAIL).")
    return LIVE_RAILS[settings.PAYOUT_LIVE_RAIL]()
