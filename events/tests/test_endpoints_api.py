"""Webhook endpoints through the API: the secret shown once, the URL rules per mode, scoping."""

import pytest

from events import urls_policy


def create(client, **fields):
    return client.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "enabledEvents": ["*"], **fields})


def test_create_shows_the_secret_once_then_never(api):
    response = create(api, description="ours", enabledEvents=["payout.paid", "payout.failed", "payout.paid"])
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["enabledEvents"] == ["payout.failed", "payout.paid"]
    assert (created["status"], created["disabledReason"], created["livemode"]) == ("enabled", None, False)
    shown = api.get(f"/webhook-endpoints/{created['webhookEndpointId']}").json()
    assert shown == {key: value for key, value in created.items() if key != "secret"}
    assert api.get("/webhook-endpoints").json() == {"data": [shown], "hasMore": False}


def test_update_disable_and_delete(api):
    created = create(api).json()
    path = f"/webhook-endpoints/{created['webhookEndpointId']}"
    updated = api.patch(path, {"status": "disabled", "enabledEvents": ["customer.created"], "description": "x"}).json()
    assert (updated["status"], updated["disabledReason"], updated["enabledEvents"]) == (
        "disabled",
        "merchant",
        ["customer.created"],
    )
    assert api.patch(path, {"status": "enabled"}).json()["disabledReason"] is None
    deleted = api.delete(path)
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert api.get(path).status_code == 404
    assert api.get("/webhook-endpoints").json()["data"] == []


@pytest.mark.parametrize(
    "fields, param, code",
    [
        ({"url": "ftp://example.com/x"}, "url", "url_invalid"),
        ({"url": "http://user:pw@example.com/x"}, "url", "url_invalid"),
        ({"url": "not a url"}, "url", "url_invalid"),
        ({"enabledEvents": ["payout.nope"]}, "enabledEvents.0", "parameter_invalid_choice"),
        ({"enabledEvents": []}, "enabledEvents", "parameter_too_short"),
        ({"secret": "whsec_mine"}, "secret", "parameter_read_only"),
        ({"colour": "red"}, "colour", "parameter_unknown"),
    ],
)
def test_bad_endpoints_are_400_naming_the_field(api, fields, param, code):
    response = create(api, **fields)
    assert response.status_code == 400
    assert (param, code) in {(e["param"], e["code"]) for e in response.json()["error"]["errors"]}, response.json()


@pytest.mark.parametrize(
    "url, resolves_to, code",
    [
        ("http://hooks.example.com/x", ("93.184.215.14",), "url_not_https"),
        ("https://127.0.0.1/x", ("127.0.0.1",), "url_not_public"),
        ("https://localhost/x", ("127.0.0.1", "::1"), "url_not_public"),
        ("https://hooks.example.com/x", ("93.184.215.14", "10.0.0.7"), "url_not_public"),
        ("https://hooks.example.com/x", ("169.254.169.254",), "url_not_public"),
        ("https://hooks.example.com/x", ("::ffff:192.168.1.1",), "url_not_public"),
        ("https://hooks.example.com/x", (), "url_not_resolvable"),
    ],
)
def test_a_live_endpoint_must_be_https_and_public(live_api, monkeypatch, url, resolves_to, code):
    monkeypatch.setattr(urls_policy, "resolve", lambda host, port: resolves_to)
    response = create(live_api, url=url)
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["code"] == code


def test_a_live_endpoint_on_a_public_https_address_is_accepted(live_api, monkeypatch):
    monkeypatch.setattr(urls_policy, "resolve", lambda host, port: ("93.184.215.14",))
    assert create(live_api, url="https://hooks.example.com/x").status_code == 201


def test_test_mode_may_call_the_developers_own_machine(api):
    assert create(api, url="http://localhost:8080/hooks").status_code == 201


def test_endpoints_are_scoped_by_merchant_and_mode(api, other_api, live_api):
    created = create(api).json()
    for client in (other_api, live_api):
        assert client.get(f"/webhook-endpoints/{created['webhookEndpointId']}").status_code == 404
        assert client.get("/webhook-endpoints").json()["data"] == []


def test_resend_to_another_merchants_endpoint_is_404(api, other_api, create_customer):
    create_customer()
    event_id = api.get("/events").json()["data"][0]["eventId"]
    theirs = create(other_api).json()
    response = api.post(f"/events/{event_id}/resend", {"webhookEndpointId": theirs["webhookEndpointId"]})
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "webhookEndpointId"


def test_an_idempotent_replay_never_keeps_the_secret_in_clear(api):
    from idempotency.models import IdempotencyKey

    body = {"url": "http://127.0.0.1:9/hooks", "enabledEvents": ["*"]}
    first = api.post("/webhook-endpoints", body, headers={"Idempotency-Key": "we-1"})
    replay = api.post("/webhook-endpoints", body, headers={"Idempotency-Key": "we-1"})
    assert first.json()["secret"].startswith("whsec_")
    assert replay.json() == {**first.json(), "secret": None}
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "whsec_" not in IdempotencyKey.objects.get().response_body
