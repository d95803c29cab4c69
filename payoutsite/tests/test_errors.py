"""Bad requests of every shape get a 4xx in the one error format, with nothing written."""

import logging

import pytest
from django.test import Client

from customers.models import Customer

ERROR_KEYS = {"type", "code", "message", "param", "errors"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    assert body["error"]["code"] == code
    return body["error"]


@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'type': 'individual'}", b"nul\x00l", b"\xff\xfe", b'{"a": NaN}', b'{"a": 1}x', b'"\\ud800"'],
)
def test_malformed_json(api, raw):
    assert_error(api.post("/customers", raw=raw), 400, "invalid_json")
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("body", [b"[]", b"1", b'"customer"', b"null", b"true"])
def test_body_that_is_not_an_object(api, body):
    error = assert_error(api.post("/customers", raw=body), 400, "parameter_invalid")
    assert error["errors"][0]["code"] == "invalid_body"


def test_empty_body_reports_required_fields(api):
    error = assert_error(api.post("/customers", raw=b""), 400, "parameter_invalid")
    assert {e["param"] for e in error["errors"]} == {"type", "name", "country"}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
def test_wrong_content_type(api, content_type):
    assert_error(
        api.post("/customers", raw=b"type=individual", content_type=content_type), 415, "unsupported_media_type"
    )
    assert Customer.objects.count() == 0


def test_oversized_body(api, settings):
    body = b'{"type": "individual", "name": "' + b"x" * settings.API_MAX_BODY_BYTES + b'", "country": "AR"}'
    assert_error(api.post("/customers", raw=body), 413, "request_too_large")
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"type": "individual", "name": "x" * 100_000, "country": "AR"},
        {"type": "individual\x00", "name": "a", "country": "AR"},
        {"type": "individual", "name": "a", "country": "A\x00"},
        {"type": "individual", "name": "a", "country": "AR", "email": "a\x00@example.com"},
        {"type": "individual", "name": "a", "country": "AR", "metadata": {"k": "\x00"}},
        {"type": "individual", "name": "a", "country": "AR", "\x00": 1},
    ],
)
def test_nul_bytes_and_absurd_lengths(api, body, settings):
    settings.API_MAX_BODY_BYTES = 1_000_000
    assert_error(api.post("/customers", body), 400, "parameter_invalid")
    assert Customer.objects.count() == 0


def test_nul_in_path_and_query(api):
    assert_error(api.get("/customers/cust_%00"), 404, "resource_missing")
    assert_error(api.get("/customers", {"startingAfter": "cust_\x00"}), 400, "parameter_invalid")
    assert_error(api.get("/customers", {"email": "\x00"}), 400, "parameter_invalid")
    assert_error(api.get("/customers", {"\x00": "x"}), 400, "parameter_invalid")


def test_unknown_url_answers_json_404(api, anon):
    assert_error(api.get("/nope"), 404, "resource_missing")
    assert_error(anon.get("/customers/cust_x/nothing/here"), 404, "resource_missing")


def test_trailing_slash_is_not_a_route(api):
    assert_error(api.get("/customers/"), 404, "resource_missing")


@pytest.mark.parametrize("path", ["/nope", "/", "/customers/", "/admin", "/customers/cust_x/nothing/here", "/docs/"])
def test_unknown_url_answers_json_404_with_debug_on_too(anon, settings, path):
    """make run sets DEBUG: Django's HTML debug 404, listing every URL pattern, must not answer instead."""
    settings.DEBUG = True
    browser = Client(enforce_csrf_checks=True)  # a POST without a CSRF cookie: still the 404, not a CSRF 403
    for response in (anon.get(path), browser.post(path, b"{}", "application/json"), anon.client.head(path)):
        assert response.status_code == 404, response.content
        assert response["Content-Type"] == "application/json"
    body = anon.get(path).content.decode()
    assert_error(anon.get(path), 404, "resource_missing")
    for pattern in ("admin/", "openapi.json", "healthz", "bank-accounts", "URLconf"):
        assert pattern not in body


def test_the_catch_all_leaves_every_route_as_it_was(api, staff, settings):
    settings.DEBUG = True
    assert api.client.get("/docs").status_code == 200
    assert api.client.get("/openapi.json").status_code == 200
    assert api.client.get("/healthz").json() == {"ok": True}
    put = api.client.put("/customers", headers={"Authorization": f"Bearer {api.key}"})
    assert put.status_code == 405 and put.json()["error"]["code"] == "method_not_allowed"
    assert staff.get("/admin/").status_code == 200
    assert staff.get("/admin/customers/customer/").status_code == 200
    # The admin answers its own unknown paths (its catch-all view), as before.
    assert staff.get("/admin/customers/nothing/").status_code == 404
    assert staff.get("/admin/customers/nothing/")["Content-Type"].startswith("text/html")


def test_append_slash_still_redirects_where_a_slash_makes_a_route(anon, settings):
    """APPEND_SLASH is off (a trailing slash is not an API route); turned on, Django's redirect still works:
    the catch-all does not take a path whose slashed form is a route."""
    settings.APPEND_SLASH = True
    redirect = anon.get("/admin")
    assert redirect.status_code == 301 and redirect["Location"] == "/admin/"
    assert_error(anon.get("/nope"), 404, "resource_missing")
    assert_error(anon.get("/customers/"), 404, "resource_missing")


def test_every_response_carries_a_request_id_that_is_logged(api, anon, caplog):
    with caplog.at_level(logging.INFO, logger="payoutsite.access"):
        responses = [api.get("/customers"), anon.get("/customers"), api.post("/customers", raw=b"{"), api.get("/nope")]
    ids = [r["Request-Id"] for r in responses]
    assert all(i.startswith("req_") for i in ids) and len(set(ids)) == len(ids)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for request_id, response in zip(ids, responses, strict=True):
        assert f"request_id={request_id}" in logged
        assert f"status={response.status_code}" in logged


def test_a_failed_write_leaves_nothing_behind(api, monkeypatch):
    """A crash after the row is inserted rolls the whole request back (ATOMIC_REQUESTS-style guarantee)."""
    from customers import views

    def explode(customer):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "customer_to_dict", explode)
    api.client.raise_request_exception = False
    error = assert_error(
        api.post("/customers", {"type": "individual", "name": "A", "country": "AR"}), 500, "internal_error"
    )
    assert error["type"] == "api_error"
    assert Customer.objects.count() == 0


def test_a_patch_that_fails_after_writing_leaves_nothing_behind(api, create_customer, monkeypatch):
    """PATCH and DELETE run in the request's transaction (api/views.py): an error after the write undoes it."""
    from customers import views

    customer = create_customer()
    path = f"/customers/{customer['customerId']}"

    def explode(customer):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "customer_to_dict", explode)
    api.client.raise_request_exception = False
    assert_error(api.patch(path, {"name": "Changed"}), 500, "internal_error")
    monkeypatch.undo()
    assert api.get(path).json()["name"] == customer["name"]


ACCEPT_HEADERS = [
    None,
    "*/*",
    "application/json",
    "",
    "text/html",
    "application/xml, text/html",
    "application/json; indent=4",
    "application/*",
    "text/html;q=0.9, application/json;q=0.8",
    "*/*;q=0.1",
]


@pytest.mark.parametrize("accept", ACCEPT_HEADERS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=xml", "?format="])
def test_content_negotiation_answers_as_drfs_own(accept, query):
    """api.renderers.JsonContentNegotiation skips parsing the usual Accept headers; its answer, or its
    refusal, is DRF's DefaultContentNegotiation's for every header."""
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from api.renderers import FastJSONRenderer, JsonContentNegotiation

    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    def outcome(negotiation):
        request = Request(APIRequestFactory().get("/customers" + query, **headers))
        try:
            renderer, media_type = negotiation().select_renderer(request, [FastJSONRenderer()])
        except Exception as error:
            return type(error)
        return type(renderer), media_type

    assert outcome(JsonContentNegotiation) == outcome(DefaultContentNegotiation)


@pytest.mark.parametrize("accept", ["text/html", ""])
def test_a_non_json_accept_is_a_406(api, accept):
    assert_error(api.get("/customers", headers={"Accept": accept}), 406, "not_acceptable")


@pytest.mark.parametrize("accept", ["*/*", "application/json", "application/*"])
def test_a_json_accept_is_answered(api, accept):
    assert api.get("/customers", headers={"Accept": accept}).status_code == 200


def test_an_api_request_carries_no_session(api, staff, db):
    """The session, user and messages middleware run for the back-office only: an API response sets no
    cookie and does not vary by one, even for a client holding a back-office session cookie."""
    response = api.get("/customers")
    assert response.status_code == 200
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    api.client.cookies = staff.cookies
    response = api.get("/customers")
    assert response.status_code == 200 and not response.cookies
    assert staff.get("/admin/").status_code == 200  # the back-office still has its session
