"""Events through the API: each change records its event once, in its own transaction, with what changed."""

import io

import pytest
from django_tasks_db.models import DBTaskResult

from customers.tests.factories import DOC_BANK_ACCOUNT
from events.models import Event
from payouts.worker import PayoutWorker


def events(api, **params) -> list[dict]:
    response = api.get("/events", params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def types(api) -> list[str]:
    return [event["type"] for event in reversed(events(api, limit=100))]


def test_each_change_records_one_event_with_what_changed(api, create_customer):
    customer = create_customer()
    cid = customer["customerId"]
    api.patch(f"/customers/{cid}", {"name": "Gerardo R."})
    account = api.post(f"/customers/{cid}/bank-accounts", DOC_BANK_ACCOUNT).json()
    api.patch(f"/customers/{cid}/bank-accounts/{account['bankAccountId']}", {"holderName": "G. Ratto"})
    payout = api.post("/payouts", {"amount": "10.00", "currency": "ARS", "customerId": cid}).json()
    api.post(f"/payouts/{payout['payoutId']}/cancel")
    api.delete(f"/customers/{cid}/bank-accounts/{account['bankAccountId']}")

    assert types(api) == [
        "customer.created",
        "customer.updated",
        "bank_account.created",
        "customer.updated",
        "bank_account.updated",
        "payout.created",
        "payout.canceled",
        "bank_account.disabled",
        "customer.updated",
    ]
    by_type = {}
    for event in reversed(events(api, limit=100)):
        by_type.setdefault(event["type"], []).append(event["data"])
    assert by_type["customer.created"][0] == {"object": customer, "previousAttributes": {}}
    assert by_type["customer.updated"][0]["previousAttributes"] == {"name": customer["name"]}
    assert by_type["customer.updated"][0]["object"]["name"] == "Gerardo R."
    assert by_type["customer.updated"][1]["previousAttributes"] == {"defaultBankAccountId": None}
    assert by_type["bank_account.created"][0]["object"] == account
    assert by_type["bank_account.updated"][0]["previousAttributes"] == {"holderName": "Gerardo Ratto"}
    assert by_type["payout.created"][0]["object"] == payout
    assert by_type["payout.canceled"][0]["previousAttributes"] == {"status": "pending"}
    assert by_type["payout.canceled"][0]["object"] == api.get(f"/payouts/{payout['payoutId']}").json()
    assert by_type["bank_account.disabled"][0]["previousAttributes"] == {"status": "active"}
    assert by_type["customer.updated"][2]["previousAttributes"] == {"defaultBankAccountId": account["bankAccountId"]}


def test_a_patch_that_changes_nothing_records_nothing(api, create_customer):
    customer = create_customer()
    api.patch(f"/customers/{customer['customerId']}", {"name": customer["name"]})
    assert types(api) == ["customer.created"]


def test_the_worker_records_processing_then_paid_or_failed(api, payee, settings):
    paid = api.post("/payouts", {"amount": "10.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    PayoutWorker(batch_size=10).run_once()
    recorded = [e for e in reversed(events(api, limit=100)) if e["data"]["object"].get("payoutId") == paid["payoutId"]]
    assert [e["type"] for e in recorded] == ["payout.created", "payout.processing", "payout.paid"]
    assert recorded[1]["data"]["previousAttributes"] == {"status": "pending"}
    assert recorded[2]["data"]["previousAttributes"] == {"status": "processing"}
    assert recorded[2]["data"]["object"] == api.get(f"/payouts/{paid['payoutId']}").json()


def test_a_rejection_records_the_payouts_it_failed(api, payee, staff):
    from customers.models import Customer
    from customers.services import customer_verification_set

    payout = api.post("/payouts", {"amount": "10.00", "currency": "ARS", "customerId": payee["customerId"]}).json()
    customer = Customer.objects.get(public_id=payee["customerId"])
    customer_verification_set(customer=customer, status="rejected", reviewer=None, reason="fraud")
    failed = events(api, type="payout.failed")
    assert len(failed) == 1
    assert failed[0]["data"]["object"]["payoutId"] == payout["payoutId"]
    assert failed[0]["data"]["object"]["failureCode"] == "customer_rejected"
    assert failed[0]["data"]["previousAttributes"] == {"status": "pending", "failureCode": None, "failureMessage": None}


def test_a_change_rolled_back_leaves_no_event_and_no_task(api, create_customer, monkeypatch, receiver):
    from customers import views

    api.post("/webhook-endpoints", {"url": receiver.url, "enabledEvents": ["*"]})
    customer = create_customer()
    tasks_before = DBTaskResult.objects.count()

    def explode(*args, **kwargs):
        raise RuntimeError("after the write")

    monkeypatch.setattr(views, "customer_to_dict", explode)
    api.client.raise_request_exception = False
    assert api.patch(f"/customers/{customer['customerId']}", {"name": "Never"}).status_code == 500
    assert api.post("/customers", {"type": "individual", "name": "A", "country": "AR"}).status_code == 500
    assert list(Event.objects.values_list("type", flat=True)) == ["customer.created"]
    assert DBTaskResult.objects.count() == tasks_before


def test_an_event_is_queued_for_delivery_only_when_an_endpoint_listens(api, create_customer, receiver):
    create_customer()
    assert DBTaskResult.objects.count() == 0
    api.post("/webhook-endpoints", {"url": receiver.url, "enabledEvents": ["payout.paid"]})
    create_customer()
    assert DBTaskResult.objects.count() == 0
    api.post("/webhook-endpoints", {"url": receiver.url, "enabledEvents": ["customer.created"]})
    create_customer()
    assert [t.task_path for t in DBTaskResult.objects.all()] == ["events.tasks.fan_out"]


def test_list_filters_by_several_types_and_pages(api, create_customer):
    for _ in range(3):
        create_customer()
    customer = create_customer()
    api.patch(f"/customers/{customer['customerId']}", {"name": "X"})
    assert {e["type"] for e in events(api, type="customer.updated,customer.created")} == {
        "customer.created",
        "customer.updated",
    }
    assert [e["type"] for e in events(api, type="customer.updated")] == ["customer.updated"]
    first = api.get("/events", {"limit": 2}).json()
    assert first["hasMore"] is True and len(first["data"]) == 2
    rest = api.get("/events", {"limit": 10, "startingAfter": first["data"][-1]["eventId"]}).json()
    assert rest["hasMore"] is False and len(rest["data"]) == 3
    one = api.get(f"/events/{rest['data'][0]['eventId']}").json()
    assert one == rest["data"][0]


@pytest.mark.parametrize(
    "params, code",
    [({"type": "payout.nope"}, "parameter_invalid"), ({"createdAt[gte]": "yesterday"}, "parameter_invalid")],
)
def test_bad_list_parameters_are_400(api, params, code):
    response = api.get("/events", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_events_are_scoped_by_merchant_and_mode(api, other_api, live_api, create_customer):
    create_customer()
    event_id = events(api)[0]["eventId"]
    assert events(other_api) == [] and events(live_api) == []
    for client in (other_api, live_api):
        response = client.get(f"/events/{event_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"


def test_purge_deletes_only_events_past_the_retention(api, create_customer):
    from datetime import timedelta

    from django.core.management import CommandError, call_command
    from django.utils import timezone

    create_customer()
    create_customer()
    old, new = Event.objects.order_by("id")
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    call_command("purge_events", stdout=io.StringIO())
    assert list(Event.objects.values_list("pk", flat=True)) == [new.pk]
    with pytest.raises(CommandError, match="at least 30"):
        call_command("purge_events", "--days", "7")


@pytest.mark.django_db(transaction=True)
def test_two_first_accounts_racing_record_the_default_only_for_the_one_that_became_it(api, create_customer):
    from customers.tests.factories import make_cbu
    from testsupport.api import run_at_once

    customer = create_customer()
    path = f"/customers/{customer['customerId']}/bank-accounts"
    numbers = iter([make_cbu(account=f"{n:013d}") for n in (11, 12)])
    added = run_at_once(2, lambda: api.post(path, {**DOC_BANK_ACCOUNT, "accountNumber": next(numbers), "metadata": {}}))
    assert [response.status_code for response in added] == [201, 201]
    default = api.get(f"/customers/{customer['customerId']}").json()["defaultBankAccountId"]
    updates = events(api, type="customer.updated")
    assert [e["data"]["object"]["defaultBankAccountId"] for e in updates] == [default]


@pytest.mark.django_db
def test_the_database_runs_the_services_modules_recording_function():
    from django.db import connection

    from events import services

    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'events_record'")
        (source,) = cursor.fetchone()
    assert f"$${source}$$" in services.INSTALL  # a change to INSTALL needs a migration running it
