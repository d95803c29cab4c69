"""Builders for valid CBU/CVU numbers: the check digits computed with stdnum's algorithm."""

from stdnum.ar import cbu

DOC_ACCOUNT_NUMBER = "0070327530004025541644"
DOC_BANK_ACCOUNT = {
    "country": "AR",
    "currency": "ARS",
    "rail": "OTHER",
    "accountType": "checking",
    "holderName": "Gerardo Ratto",
    "accountNumber": DOC_ACCOUNT_NUMBER,
    "metadata": {"cuit": "20221370075"},
}


def make_cbu(entity: str = "285", branch: str = "0590", account: str = "9400904181352") -> str:
    block1 = entity + branch
    return block1 + cbu.calc_check_digit(block1) + account + cbu.calc_check_digit(account)


def make_cvu(provider: str = "0001", account: str = "0000000012345") -> str:
    return make_cbu(entity="000", branch=provider, account=account)
