"""Webhook deliveries to a real receiver on 127.0.0.1, run by django-tasks-db's own worker."""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks import Webhook

from events import urls_policy
from events.models import Delivery, WebhookEndpoint
from events.services import tasks_recover
from testsupport.databases import running_test_database_url
from testsupport.tasks import run_tasks

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def endpoint(api, url: str, events=("*",)) -> dict:
    response = api.post("/webhook-endpoints", {"url": url, "enabledEvents": list(events)})
    assert response.status_code == 201, response.content
    return response.json()


def verified(request, secret: str) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


def test_a_delivery_is_signed_the_standard_webhooks_way(api, create_customer, receiver):
    hook = endpoint(api, receiver.url)
    customer = create_customer()
    run_tasks()
    (request,) = receiver.requests
    event = verified(request, hook["secret"])
    assert event["type"] == "customer.created"
    assert event["data"]["object"] == customer
    assert list(event["data"]["object"]) == list(customer), "in the API's order, as the API showed it"
    assert request.headers["webhook-id"] == event["eventId"]
    assert api.get(f"/events/{event['eventId']}").json() == event


def test_a_receiver_failing_three_times_gets_it_once_more_after_each_then_no_more(
    api, create_customer, receiver, fast_retries
):
    hook = endpoint(api, receiver.url)
    receiver.answers = [500, 503, 404]
    create_customer()
    run_tasks()
    assert len(receiver.requests) == 4
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    for request in receiver.requests:
        verified(request, hook["secret"])
    run_tasks()
    assert len(receiver.requests) == 4
    (delivery,) = api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}/deliveries").json()["data"]
    assert delivery["status"] == "succeeded"
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 503, 404, 200]
    assert [a["succeeded"] for a in delivery["attempts"]] == [False, False, False, True]
    assert delivery["attempts"][3]["responseExcerpt"] == "ok"
    assert not DBTaskResult.objects.filter(status="READY").exists()


def test_a_failed_attempt_waits_its_backoff(api, create_customer, receiver):
    endpoint(api, receiver.url)
    receiver.answers = [500]
    create_customer()
    run_tasks()
    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    retry = DBTaskResult.objects.get(pk=delivery.next_task_id)
    assert retry.status == "READY" and retry.run_after > timezone.now()


def test_a_receiver_that_hangs_is_cut_at_the_timeout(api, create_customer, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    hook = endpoint(api, receiver.url)
    receiver.answers = ["hang"]
    create_customer()
    run_tasks()
    (delivery,) = api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}/deliveries").json()["data"]
    assert delivery["status"] == "pending"
    assert [(a["statusCode"], a["error"]) for a in delivery["attempts"]] == [(None, "timeout")]


def test_a_rolled_secret_signs_beside_the_old_one_for_the_grace_period(api, create_customer, receiver):
    hook = endpoint(api, receiver.url)
    rolled = api.post(f"/webhook-endpoints/{hook['webhookEndpointId']}/roll-secret").json()
    assert rolled["secret"] != hook["secret"]
    assert "secret" not in api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}").json()
    create_customer()
    run_tasks()
    (request,) = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verified(request, hook["secret"]) == verified(request, rolled["secret"])
    WebhookEndpoint.objects.update(previous_secret_expires_at=timezone.now())
    create_customer()
    run_tasks()
    later = receiver.requests[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    verified(later, rolled["secret"])


def test_a_live_url_that_now_resolves_to_loopback_is_refused_at_delivery(
    live_api, merchant, receiver, monkeypatch, live_payouts_enabled
):
    port = receiver.url.split(":")[2].split("/")[0]
    public = monkeypatch.context()
    with public as patch:
        patch.setattr(urls_policy, "resolve", lambda host, port: ("93.184.215.14",))
        hook = endpoint(live_api, f"https://hooks.example.com:{port}/x")
    monkeypatch.setattr(urls_policy, "resolve", lambda host, port: ("127.0.0.1",))
    live_api.post("/customers", {"type": "individual", "name": "A", "country": "AR"})
    run_tasks()
    assert receiver.requests == []
    (delivery,) = live_api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}/deliveries").json()["data"]
    assert delivery["attempts"][0]["error"] == "url_not_public"


def test_resend_delivers_again_as_a_new_delivery(api, create_customer, receiver):
    hook = endpoint(api, receiver.url)
    create_customer()
    run_tasks()
    event_id = receiver.requests[0].headers["webhook-id"]
    response = api.post(f"/events/{event_id}/resend", {"webhookEndpointId": hook["webhookEndpointId"]})
    assert response.status_code == 200 and response.json()["eventId"] == event_id
    run_tasks()
    assert [r.headers["webhook-id"] for r in receiver.requests] == [event_id, event_id]
    deliveries = api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}/deliveries").json()["data"]
    assert [d["status"] for d in deliveries] == ["succeeded", "succeeded"]


def test_an_endpoint_failing_for_the_whole_window_is_disabled(api, create_customer, receiver, settings):
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 0  # every failure is the last of its window
    hook = endpoint(api, receiver.url)
    receiver.answers = [500]
    create_customer()
    run_tasks()
    shown = api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}").json()
    assert (shown["status"], shown["disabledReason"]) == ("disabled", "failing")
    (delivery,) = api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}/deliveries").json()["data"]
    assert delivery["status"] == "failed"
    create_customer()
    run_tasks()
    assert len(receiver.requests) == 1


def test_a_worker_killed_mid_delivery_delivers_later(api, create_customer, receiver):
    hook = endpoint(api, receiver.url)
    receiver.answers = ["hang"]
    create_customer()
    env = {**os.environ, "DATABASE_URL": running_test_database_url(), "WEBHOOK_TIMEOUT_SECONDS": "20"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--no-reload", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert receiver.arrived.wait(30), "the worker never called the receiver"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert Delivery.objects.get().attempts == 0
    assert DBTaskResult.objects.get(task_path="events.tasks.fan_out").status == "RUNNING"  # left by the dead worker
    assert tasks_recover(stale_after=timedelta(seconds=60)) == 0  # not stale yet
    assert tasks_recover(stale_after=timedelta(0)) == 1  # what run_workers does once TASK_STALE_SECONDS passed
    run_tasks()
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    verified(receiver.requests[1], hook["secret"])
    assert Delivery.objects.get().status == "succeeded"


def test_a_fan_out_cut_by_a_database_outage_is_done_again_and_only_once(api, create_customer, receiver, monkeypatch):
    from django.db import OperationalError

    from events import services

    endpoint(api, receiver.url)
    listening = services.endpoints_listening

    def outage(event):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "endpoints_listening", outage)
    create_customer()
    run_tasks()
    assert Delivery.objects.count() == 0
    assert DBTaskResult.objects.get().status == "FAILED"
    monkeypatch.setattr(services, "endpoints_listening", listening)
    assert tasks_recover(stale_after=timedelta(seconds=60), retry_after=timedelta(0)) == 1
    run_tasks()
    event_ids = [receiver.requests[0].headers["webhook-id"]]
    assert services.deliveries_fan_out(event_ids=event_ids) == 0  # a repeated fan-out makes nothing
    run_tasks()
    assert len(receiver.requests) == 1 and Delivery.objects.count() == 1


def test_an_attempt_recorded_twice_counts_once(api, create_customer, receiver):
    """A slow worker whose task was taken as stale finishes the same attempt as the one that ran it
    again: one record, one retry."""
    from events import delivering
    from events.models import DeliveryAttempt
    from events.sending import Answer

    endpoint(api, receiver.url)
    create_customer()
    from events.models import Event
    from events.services import deliveries_fan_out

    deliveries_fan_out(event_ids=[Event.objects.get().public_id])
    delivery = Delivery.objects.get()
    answer = Answer(succeeded=False, status_code=500, error="", duration_ms=3, excerpt="")
    assert delivering._record(delivery, 1, answer) == "will retry"
    delivering._record(delivery, 1, answer)
    assert DeliveryAttempt.objects.count() == 1
    retries = DBTaskResult.objects.filter(task_path="events.tasks.deliver", args_kwargs__args=[delivery.pk, 2])
    assert retries.count() == 1


def test_first_attempts_past_their_time_continue_in_a_new_task(api, create_customer, receiver, settings):
    settings.TASK_STALE_SECONDS = 0  # every attempt is past the fan-out task's time
    for _ in range(3):
        endpoint(api, receiver.url)
    create_customer()
    run_tasks()
    assert len(receiver.requests) == 3
    assert Delivery.objects.filter(status="succeeded").count() == 3
    runs = DBTaskResult.objects.filter(status="SUCCESSFUL").values_list("task_path", flat=True)
    assert sorted(runs) == ["events.tasks.fan_out", "events.tasks.first_attempts", "events.tasks.first_attempts"]


def test_resend_to_one_endpoint_reaches_only_it_once(api, receiver):
    """An event recorded while nothing listened: resending it to A makes one delivery, to A only."""
    from customers.models import Customer

    api.post("/customers", {"type": "individual", "name": "A", "country": "AR"})
    assert Customer.objects.count() == 1
    a = endpoint(api, receiver.url)
    endpoint(api, receiver.url + "?b")
    event_id = api.get("/events").json()["data"][0]["eventId"]
    api.post(f"/events/{event_id}/resend", {"webhookEndpointId": a["webhookEndpointId"]})
    run_tasks()
    assert [r.headers["webhook-id"] for r in receiver.requests] == [event_id]
    assert Delivery.objects.count() == 1


def test_an_attempt_that_cannot_be_made_is_a_failed_attempt_not_a_stuck_delivery(
    api, create_customer, receiver, monkeypatch
):
    from events import delivering

    hook = endpoint(api, receiver.url)

    def broken(*args, **kwargs):
        raise ValueError("a bug, or a key that cannot decrypt")

    monkeypatch.setattr(delivering, "_headers", broken)
    create_customer()
    run_tasks()
    (delivery,) = api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}/deliveries").json()["data"]
    assert delivery["status"] == "pending"
    assert delivery["attempts"][0]["error"] == "internal_error: ValueError"
    assert DBTaskResult.objects.filter(task_path="events.tasks.deliver", status="READY").count() == 1


def test_a_failing_endpoint_hands_its_other_first_attempts_to_tasks_of_their_own(api, receiver, fast_retries):
    from events import tasks
    from events.models import Event

    healthy = endpoint(api, receiver.url)
    failing = endpoint(api, receiver.url + "?failing")
    for _ in range(3):
        api.post("/customers", {"type": "individual", "name": "A", "country": "AR"})
    receiver.answers = [200, 500]  # the first event: healthy answers, failing fails
    DBTaskResult.objects.all().delete()  # one fan-out for the three events, as a worker's batch makes
    tasks.fan_out.enqueue(list(Event.objects.order_by("id").values_list("public_id", flat=True)))
    run_tasks()
    handed = DBTaskResult.objects.filter(task_path="events.tasks.deliver", args_kwargs__args__1=1)
    assert handed.count() == 2  # the failing endpoint's second and third first attempts
    for hook in (healthy, failing):
        deliveries = api.get(f"/webhook-endpoints/{hook['webhookEndpointId']}/deliveries").json()["data"]
        assert [d["status"] for d in deliveries] == ["succeeded"] * 3


def test_a_fan_out_task_does_the_work_of_the_ones_waiting(api, create_customer, receiver):
    endpoint(api, receiver.url)
    for _ in range(3):
        create_customer()  # one event, one fan-out task each
    run_tasks()
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 3
    outcomes = sorted(DBTaskResult.objects.values_list("status", "return_value"))
    assert [status for status, _ in outcomes] == ["SUCCESSFUL"] * 3
    assert [value for _, value in outcomes].count("done by another fan-out task") == 2
