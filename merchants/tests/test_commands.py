import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from merchants.models import ApiKey, Merchant
from testsupport.api import ApiClient

KEY_LINE = re.compile(r"^sk_(test|live)_[A-Za-z0-9]{32,}$")


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


@pytest.mark.django_db
def test_create_merchant_prints_id_and_each_key_alone_on_a_line():
    lines = run("create_merchant", "Rides SA")
    merchant = Merchant.objects.get(name="Rides SA")
    assert lines[0] == f"merchant {merchant.public_id}"
    keys = [line for line in lines if KEY_LINE.match(line)]
    assert [k[:8] for k in keys] == ["sk_test_", "sk_live_"]
    for key in keys:
        assert ApiClient(key).get("/customers").status_code == 200


@pytest.mark.django_db
def test_create_merchant_rejects_blank_name():
    with pytest.raises(CommandError):
        run("create_merchant", "   ")


def test_roll_command_prints_new_key_and_expires_old(merchant):
    lines = run("roll_api_key", merchant.test_key.public_id, "--expires-in-hours", "0")
    new_secret = lines[-1]
    assert KEY_LINE.match(new_secret)
    assert ApiClient(new_secret).get("/customers").status_code == 200
    assert ApiClient(merchant.test).get("/customers").json()["error"]["code"] == "api_key_expired"


def test_revoke_command(merchant):
    run("revoke_api_key", merchant.live_key.public_id)
    assert ApiKey.objects.get(pk=merchant.live_key.pk).revoked_at is not None
    assert ApiClient(merchant.live).get("/customers").json()["error"]["code"] == "api_key_revoked"


@pytest.mark.django_db
def test_commands_reject_unknown_key_ids():
    with pytest.raises(CommandError):
        run("roll_api_key", "key_nope")
    with pytest.raises(CommandError):
        run("revoke_api_key", "key_nope")


def test_list_api_keys_shows_no_secret(merchant):
    lines = run("list_api_keys", merchant.merchant.public_id)
    assert len(lines) == 2
    assert all("active" in line for line in lines)
    assert merchant.test not in "\n".join(lines) and merchant.live not in "\n".join(lines)


@pytest.mark.django_db
def test_ensure_demo_merchant_is_idempotent():
    first = run("ensure_demo_merchant")
    second = run("ensure_demo_merchant")
    assert Merchant.objects.filter(name="Demo merchant").count() == 1
    assert any("sk_test_" in line for line in first)
    assert not any("sk_test_" in line for line in second)
