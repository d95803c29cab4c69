"""Every way a key can fail answers 401 in the error format, with WWW-Authenticate: Bearer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from merchants.models import ApiKey
from merchants.services import api_key_revoke, api_key_roll, hash_secret


def assert_401(response, code: str):
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["code"] == code
    assert error["message"]


@pytest.mark.django_db
def test_missing_key(anon):
    assert_401(anon.get("/customers"), "api_key_missing")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Token sk_test_" + "a" * 40,
        "Bearer sk_test_short",
        "Bearer pk_test_" + "a" * 40,
        "Bearer sk_prod_" + "a" * 40,
        "Bearer sk_test_" + "a" * 39 + "!",
        "Bearer sk_test_" + "a" * 5000,
    ],
)
def test_malformed_header_or_key(anon, header):
    assert_401(anon.get("/customers", headers={"Authorization": header}), "api_key_invalid")


@pytest.mark.django_db
def test_unknown_key(anon, merchant):
    assert_401(anon.get("/customers", key="sk_test_" + "Z" * 40), "api_key_invalid")


def test_revoked_key(api, merchant):
    api_key_revoke(api_key=merchant.test_key)
    assert_401(api.get("/customers"), "api_key_revoked")


def test_expired_key(api, merchant):
    ApiKey.objects.filter(pk=merchant.test_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_401(api.get("/customers"), "api_key_expired")


def test_rolled_key_keeps_working_until_its_expiry(api, merchant, anon):
    new = api_key_roll(api_key=merchant.test_key, old_key_valid_for=timedelta(hours=1))
    assert api.get("/customers").status_code == 200
    assert anon.get("/customers", key=new.secret).status_code == 200
    old = ApiKey.objects.get(pk=merchant.test_key.pk)
    assert old.rolled_to_id == new.api_key.pk
    assert timedelta(minutes=59) < old.expires_at - timezone.now() <= timedelta(hours=1)


def test_rolled_key_with_zero_grace_stops_at_once(api, merchant, anon):
    new = api_key_roll(api_key=merchant.test_key, old_key_valid_for=timedelta(0))
    assert_401(api.get("/customers"), "api_key_expired")
    assert anon.get("/customers", key=new.secret).status_code == 200


def test_rolled_key_is_same_merchant_and_mode(merchant):
    new = api_key_roll(api_key=merchant.live_key, old_key_valid_for=timedelta(hours=1))
    assert new.secret.startswith("sk_live_")
    assert new.api_key.merchant_id == merchant.merchant.pk
    assert new.api_key.livemode is True


def test_cannot_roll_a_revoked_key(merchant):
    api_key_revoke(api_key=merchant.test_key)
    with pytest.raises(ValueError, match="revoked or expired"):
        api_key_roll(api_key=merchant.test_key, old_key_valid_for=timedelta(hours=1))


def test_keys_are_stored_only_as_hashes(merchant):
    for secret, key in ((merchant.test, merchant.test_key), (merchant.live, merchant.live_key)):
        stored = ApiKey.objects.filter(pk=key.pk).values()[0]
        assert secret not in str(stored)
        assert stored["key_hash"] == hash_secret(secret)
        assert secret.startswith(stored["prefix"]) and len(stored["prefix"]) == len("sk_test_") + 4


def test_key_shape(merchant):
    assert merchant.test.startswith("sk_test_") and len(merchant.test) - len("sk_test_") >= 32
    assert merchant.live.startswith("sk_live_") and len(merchant.live) - len("sk_live_") >= 32
    assert merchant.test[8:].isalnum() and merchant.live[8:].isalnum()


def test_openapi_and_docs_need_no_key(anon, db):
    assert anon.get("/openapi.json").status_code == 200
    assert anon.get("/docs").status_code == 200


@pytest.mark.django_db
def test_the_key_lookup_reads_what_a_request_needs_in_one_query(merchant, django_assert_num_queries):
    """merchants.selectors makes the row an ApiKey itself (no raw()): the same values as the ORM reads, and
    no second query for any of them."""
    from merchants.selectors import _KEY_COLUMNS, api_key_authenticate

    expires = timezone.now() + timedelta(days=1)
    ApiKey.objects.filter(pk=merchant.test_key.pk).update(expires_at=expires, last_used_at=expires)
    expected = ApiKey.objects.get(pk=merchant.test_key.pk)
    with django_assert_num_queries(1):
        key = api_key_authenticate(secret=merchant.test)
        values = {name: getattr(key, name) for name in _KEY_COLUMNS}
        scope = key.scope
    assert values == {name: getattr(expected, name) for name in _KEY_COLUMNS}
    assert values["expires_at"] == expires and values["expires_at"].tzinfo is not None
    assert scope == expected.scope
    assert key._state.db == "default" and not key._state.adding
