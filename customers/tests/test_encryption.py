"""Account numbers at rest: encryption round trip, key rotation, and loud failure on wrong keys."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from core import crypto
from customers.checks import check_account_number_keys
from customers.models import BankAccount
from customers.services import bank_account_numbers_rotate_batch
from customers.tests.factories import make_cbu
from testsupport.factories import make_bank_account, make_customer

OLD, NEW, STRANGER = (Fernet.generate_key().decode() for _ in range(3))


@pytest.fixture
def keys(settings):
    """Switch FIELD_ENCRYPTION_KEYS in the middle of a test, as a deploy would."""

    def use(*keys: str) -> None:
        settings.FIELD_ENCRYPTION_KEYS = list(keys)
        crypto.reset_cache()

    use(OLD)
    yield use
    crypto.reset_cache()


@pytest.fixture
def stored(keys, merchant) -> list[str]:
    customer = make_customer(merchant.test_key.scope, name="A")
    numbers = [make_cbu(account=f"{i:013d}") for i in range(5)]
    for number in numbers:
        make_bank_account(merchant.test_key.scope, customer, number)
    return numbers


def numbers_in_db() -> list[str]:
    return [account.account_number() for account in BankAccount.objects.order_by("pk")]


def test_round_trip_and_wrong_key_never_returns_ciphertext(keys):
    token = crypto.encrypt("0070327530004025541644")
    assert "0070327530004025541644" not in token
    assert crypto.decrypt(token) == "0070327530004025541644"
    keys(STRANGER)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_rotation_re_encrypts_everything_under_the_new_key(keys, stored):
    keys(NEW, OLD)
    out = StringIO()
    call_command("rotate_encryption_key", "--batch-size", "2", stdout=out)
    assert out.getvalue().splitlines() == [
        "re-encrypted 2",
        "re-encrypted 4",
        "re-encrypted 5",
        "done: 5 re-encrypted, 0 left under other keys",
    ]
    assert set(BankAccount.objects.values_list("account_number_key_id", flat=True)) == {crypto.key_id(NEW)}
    keys(NEW)  # the old key can go
    assert numbers_in_db() == stored
    assert check_account_number_keys() == []


def test_rotation_is_resumable(keys, stored):
    keys(NEW, OLD)
    assert bank_account_numbers_rotate_batch(batch_size=2) == 2  # then the process dies
    assert BankAccount.objects.filter(account_number_key_id=crypto.key_id(OLD)).count() == 3
    assert numbers_in_db() == stored  # both keys still decrypt meanwhile
    call_command("rotate_encryption_key", stdout=StringIO())
    keys(NEW)
    assert numbers_in_db() == stored


def test_dropping_the_old_key_before_rotating_fails_the_start_up_check(keys, stored):
    keys(NEW)
    errors = check_account_number_keys()
    assert [error.id for error in errors] == ["customers.E001", "customers.E002"]
    with pytest.raises(crypto.DecryptionError):
        BankAccount.objects.first().account_number()


def test_a_wrong_key_stops_the_wsgi_process(keys, stored):
    from payoutsite.wsgi import _refuse_to_start_on_key_errors

    _refuse_to_start_on_key_errors()  # right keys: starts
    keys(STRANGER)
    with pytest.raises(ImproperlyConfigured, match=r"customers\.E001"):
        _refuse_to_start_on_key_errors()


def test_corrupted_ciphertext_fails_the_check(keys, stored):
    newest = BankAccount.objects.order_by("-pk").first()
    BankAccount.objects.filter(pk=newest.pk).update(account_number_ciphertext="gAAAAAB" + "x" * 80)
    assert [error.id for error in check_account_number_keys()] == ["customers.E002"]


def test_the_start_up_check_reads_a_bounded_sample_and_finds_a_dropped_key_at_the_old_end(keys, stored, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers import checks

    monkeypatch.setattr(checks, "SAMPLE", 2)
    keys(NEW, OLD)
    bank_account_numbers_rotate_batch(batch_size=3)  # a rotation stopped half-way: the newest two still under OLD
    with CaptureQueriesContext(connection) as queries:
        assert check_account_number_keys() == []
    assert 2 <= len(queries) <= 3 and all("LIMIT 2" in query["sql"] for query in queries)  # never every row
    oldest = BankAccount.objects.order_by("pk").first()
    BankAccount.objects.filter(pk=oldest.pk).update(account_number_key_id="dropped")
    assert [error.id for error in check_account_number_keys()] == ["customers.E001"]


def test_rotation_command_rejects_bad_batch_size(keys):
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("rotate_encryption_key", "--batch-size", "0", stdout=StringIO())


def test_rotation_re_encrypts_payouts_destinations_too_and_unsent_ones_are_checked(keys, stored, api):
    from payouts.checks import unsent_payouts_can_be_decrypted
    from payouts.models import Payout
    from payouts.worker import PayoutWorker

    for amount in ("1.00", "2.00", "3.00"):
        api.post("/payouts", {"amount": amount, "currency": "ARS", "destinationCbu": stored[0]})
    keys(NEW, OLD)
    out = StringIO()
    call_command("rotate_encryption_key", "--batch-size", "2", stdout=out)
    assert out.getvalue().splitlines()[-1] == "done: 8 re-encrypted, 0 left under other keys"
    assert set(Payout.objects.values_list("destination_key_id", flat=True)) == {crypto.key_id(NEW)}
    keys(NEW)  # the old key can go: the worker still reads every destination
    assert unsent_payouts_can_be_decrypted() == []
    assert PayoutWorker().run_once().outcomes == {"paid": 3}


def test_unsent_payouts_under_a_dropped_key_fail_the_start_up_check(keys, stored, api):
    from payouts.checks import unsent_payouts_can_be_decrypted

    api.post("/payouts", {"amount": "1.00", "currency": "ARS", "destinationCbu": stored[0]})
    keys(NEW)
    assert [error.id for error in unsent_payouts_can_be_decrypted()] == ["payouts.E001"]
