"""Idempotency-Key on POSTs: replay, mismatch, keys given back on failure, in-flight 409, purge."""

import threading
from datetime import timedelta
from io import StringIO

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from customers.models import Customer
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT
from idempotency.models import IdempotencyKey
from idempotency.services import advisory_lock_id
from payouts.models import Payout
from testsupport.api import ApiClient, make_merchant, run_at_once

PAYOUT = {"amount": "5000.00", "currency": "ARS", "destinationCbu": DOC_ACCOUNT_NUMBER}
CUSTOMER = {"type": "individual", "name": "Gerardo Ratto", "country": "AR"}


def key(value: str) -> dict:
    return {"Idempotency-Key": value}


def test_same_key_same_request_replays_the_first_response_byte_for_byte(api):
    first = api.post("/payouts", PAYOUT, headers=key("order-1"))
    second = api.post("/payouts", PAYOUT, headers=key("order-1"))
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert first["Content-Type"] == second["Content-Type"] == "application/json"
    assert Payout.objects.count() == 1


def test_the_same_json_written_differently_is_the_same_request(api):
    first = api.post("/customers", CUSTOMER, headers=key("c-1"))
    reordered = orjson.dumps(dict(reversed(list(CUSTOMER.items()))), option=orjson.OPT_INDENT_2)
    second = api.post("/customers", raw=reordered, headers=key("c-1"))
    assert second.content == first.content and second["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_same_key_with_another_body_or_path_is_422(api, create_customer):
    api.post("/payouts", PAYOUT, headers=key("k"))
    for path, body in (("/payouts", {**PAYOUT, "amount": "5000.01"}), ("/customers", CUSTOMER)):
        response = api.post(path, body, headers=key("k"))
        assert response.status_code == 422
        assert response.json()["error"]["type"] == response.json()["error"]["code"] == "idempotency_error"
    assert Payout.objects.count() == 1 and Customer.objects.count() == 0


def test_a_request_rejected_by_validation_does_not_use_up_its_key(api):
    bad = api.post("/payouts", {**PAYOUT, "amount": 5000}, headers=key("retry-me"))
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.exists()
    good = api.post("/payouts", PAYOUT, headers=key("retry-me"))
    assert good.status_code == 201 and "Idempotent-Replayed" not in good


def test_keys_are_scoped_to_merchant_and_mode(api, live_api, other_api, live_payouts_enabled):
    ids = {
        client.post("/payouts", PAYOUT, headers=key("same")).json()["payoutId"] for client in (api, live_api, other_api)
    }
    assert len(ids) == 3


@pytest.mark.parametrize("value", ["", "x" * 256, "tab\there", "ñandú", "\x7f"])
def test_malformed_key_is_400(api, value):
    response = api.post("/payouts", PAYOUT, headers=key(value))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"
    assert Payout.objects.count() == 0


def test_longest_and_oddest_printable_keys_work(api):
    for value in ("x" * 255, " !~{}\"'", "a"):
        assert api.post("/payouts", PAYOUT, headers=key(value)).status_code == 201


def test_cancel_is_idempotent_too(api):
    payout = api.post("/payouts", PAYOUT).json()
    first = api.post(f"/payouts/{payout['payoutId']}/cancel", headers=key("cancel-1"))
    second = api.post(f"/payouts/{payout['payoutId']}/cancel", headers=key("cancel-1"))
    assert first.status_code == second.status_code == 200 and second.content == first.content
    third = api.post(f"/payouts/{payout['payoutId']}/cancel", headers=key("cancel-2"))
    assert third.status_code == 409  # a new key: the real answer now


def test_a_request_that_fails_midway_leaves_no_trace_and_can_be_retried(api, monkeypatch):
    from payouts import services

    real_create = services.payout_create

    def create_then_crash(**kwargs):
        real_create(**kwargs)
        raise RuntimeError("the process dies after writing the payout")

    monkeypatch.setattr(services, "payout_create", create_then_crash)
    api.client.raise_request_exception = False
    assert api.post("/payouts", PAYOUT, headers=key("flaky")).status_code == 500
    assert Payout.objects.count() == 0 and not IdempotencyKey.objects.exists()
    monkeypatch.setattr(services, "payout_create", real_create)
    retry = api.post("/payouts", PAYOUT, headers=key("flaky"))
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert Payout.objects.count() == 1


def test_a_request_that_misses_a_just_finished_twin_replays_it(api, monkeypatch):
    """The lookup's snapshot can predate the lock by a moment; a twin that finished in that moment is
    missed (simulated: the first lookup is blind). The work runs again, the key's unique index stops it,
    everything it wrote is rolled back, and the request runs again, replaying the twin's response."""
    from idempotency import services

    first = api.post("/payouts", PAYOUT, headers=key("twin"))
    real_lookup = services._find
    lookups = []

    def blind_first_lookup(*args, **kwargs):
        lookups.append(real_lookup(*args, **kwargs))
        return lookups[-1] if len(lookups) > 1 else None

    monkeypatch.setattr(services, "_find", blind_first_lookup)
    second = api.post("/payouts", PAYOUT, headers=key("twin"))
    assert second.status_code == 201 and second["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert len(lookups) == 2
    assert Payout.objects.count() == 1 and IdempotencyKey.objects.count() == 1


@pytest.mark.parametrize("endpoint", ["bank_account", "cancel"])
def test_a_twin_seen_by_the_checks_is_replayed_not_refused(api, create_customer, monkeypatch, endpoint):
    """A twin with this key finished after this request's lookup (simulated: the lookup is blind), and
    this request's own checks see the twin's work: the account already there, the payout already
    canceled. It answers the twin's response, as a retry after it would, not that check's 409."""
    from idempotency import services

    customer = create_customer()
    if endpoint == "bank_account":
        path, body = f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT
    else:
        payout = api.post("/payouts", PAYOUT).json()
        path, body = f"/payouts/{payout['payoutId']}/cancel", None
    first = api.post(path, body, headers=key("twin"))
    assert first.status_code in (200, 201)
    real_find, calls = services._find, []

    def blind_first_find(*args, **kwargs):
        calls.append(1)
        return real_find(*args, **kwargs) if len(calls) > 1 else None

    monkeypatch.setattr(services, "_find", blind_first_find)
    second = api.post(path, body, headers=key("twin"))
    assert (second.status_code, second["Idempotent-Replayed"]) == (first.status_code, "true")
    assert second.content == first.content


@pytest.mark.django_db(transaction=True)
def test_a_running_creation_holds_its_key(monkeypatch):
    """While the work runs, another connection cannot take the key's lock (so a twin gets 409)."""
    from payouts import services

    merchant = make_merchant("Holds")
    api = ApiClient(merchant.test)
    lock_id = advisory_lock_id(merchant.test_key.scope, "held")
    real_create, seen = services.payout_create, []

    def create_and_probe(**kwargs):
        def try_lock() -> bool:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
                return cursor.fetchone()[0]

        seen.extend(run_at_once(1, try_lock))
        return real_create(**kwargs)

    monkeypatch.setattr(services, "payout_create", create_and_probe)
    assert api.post("/payouts", PAYOUT, headers=key("held")).status_code == 201
    assert seen == [False]


@pytest.mark.django_db(transaction=True)
def test_a_creation_that_writes_outside_its_batch_fails(api, monkeypatch):
    """batch_only: a creation that sent a write on its own would commit it apart from its key and its
    other writes; it fails instead (here, as a service changed to save directly would)."""
    from customers import services

    def create_directly(**kwargs):
        customer = Customer(
            merchant_id=kwargs["scope"].merchant_id, livemode=False, type="individual", name="Direct", country="AR"
        )
        customer.save()
        return customer

    monkeypatch.setattr(services, "customer_create", create_directly)
    api.client.raise_request_exception = False
    assert api.post("/customers", CUSTOMER, headers=key("direct")).status_code == 500
    assert not Customer.objects.exists()


def test_purge_keeps_a_day(api, merchant):
    api.post("/payouts", PAYOUT, headers=key("old"))
    api.post("/payouts", PAYOUT, headers=key("new"))
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert out.getvalue().strip() == "deleted 1 idempotency keys"
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    with pytest.raises(CommandError):
        call_command("purge_idempotency_keys", "--older-than-hours", "23")


@pytest.mark.django_db(transaction=True)
def test_a_request_while_the_first_is_running_gets_409():
    """Another connection holds the key's lock, as a request still running would."""
    merchant = make_merchant("Inflight")
    api = ApiClient(merchant.test)
    lock_id = advisory_lock_id(merchant.test_key.scope, "busy")
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(timeout=30)
    try:
        response = api.post("/payouts", PAYOUT, headers=key("busy"))
    finally:
        release.set()
        holder.join()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"
    assert Payout.objects.count() == 0
    assert api.post("/payouts", PAYOUT, headers=key("busy")).status_code == 201  # once it is free


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outcome", ["created", "rejected", "crashed", "lost_race"])
def test_a_finished_request_leaves_its_key_unlocked(outcome, monkeypatch):
    """Creations hold the key's lock at session level (no explicit transaction): whatever the outcome, it
    must be released when the request ends, or the key would answer 409 on that connection for as long
    as it lives. lost_race: the lookup missed a twin that had just finished (simulated), the lock was
    taken, the key's unique index stopped the work, and the retry replayed the twin."""
    from idempotency import services as idempotency_services
    from payouts import services

    merchant = make_merchant("Unlock")
    api = ApiClient(merchant.test)
    lock_id = advisory_lock_id(merchant.test_key.scope, "k")
    if outcome == "crashed":
        monkeypatch.setattr(services, "payout_create", lambda **kwargs: 1 / 0)
        api.client.raise_request_exception = False
    if outcome == "lost_race":
        api.post("/payouts", PAYOUT, headers=key("k"))
        real_find, calls = idempotency_services._find, []

        def blind_first_find(*args, **kwargs):
            calls.append(1)
            if len(calls) > 1:
                return real_find(*args, **kwargs)
            with connection.cursor() as cursor:  # what the real lookup does when it sees no key
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
            return None

        monkeypatch.setattr(idempotency_services, "_find", blind_first_find)
    body = {**PAYOUT, "amount": 5000} if outcome == "rejected" else PAYOUT
    response = api.post("/payouts", body, headers=key("k"))
    expected = {"created": 201, "rejected": 400, "crashed": 500, "lost_race": 201}[outcome]
    assert response.status_code == expected
    if outcome == "lost_race":
        assert response["Idempotent-Replayed"] == "true" and Payout.objects.count() == 1

    def lock_is_free() -> bool:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
            return cursor.fetchone()[0]

    assert run_at_once(1, lock_is_free) == [True]


@pytest.mark.django_db(transaction=True)
def test_n_threads_one_key_make_exactly_one_payout():
    """Eight threads send the same POST /payouts with one key at once: one payout; every answer is a 201
    (the first, or a replay of it) or a 409 while it runs; every 201 names the same payout.

    The guards: the key's lock (409 while the first runs), and behind it the key's unique index with the
    lost-race retry (core.db). Checked by hand: without the lock and the retry, this test fails
    (the unique index turns the losers into 500s); without the lock alone it passes, by design, and
    test_a_request_while_the_first_is_running_gets_409 fails instead."""
    merchant = make_merchant("Threads")

    def send():
        response = ApiClient(merchant.test).post("/payouts", PAYOUT, headers=key("same-payout"))
        return response.status_code, response.json()

    results = run_at_once(8, send)
    assert Payout.objects.count() == 1
    assert {status for status, _ in results} <= {201, 409}
    created = {body["payoutId"] for status, body in results if status == 201}
    assert created == {Payout.objects.get().public_id}
    assert all(body["error"]["code"] == "idempotency_key_in_use" for status, body in results if status == 409)
