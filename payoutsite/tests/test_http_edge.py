"""The edges of HTTP: ambiguous JSON, chunked bodies, and the errors gunicorn answers before Django runs."""

import io

import orjson
import pytest

from customers.models import Customer
from payouts.models import Payout

ERROR_KEYS = {"type", "code", "message", "param", "errors"}


def error_of(status: int, content_type: str, body: bytes, expected_status: int, code: str) -> dict:
    assert status == expected_status, body
    assert content_type == "application/json"
    parsed = orjson.loads(body)
    assert set(parsed) == {"error"} and set(parsed["error"]) == ERROR_KEYS
    assert parsed["error"]["code"] == code, parsed
    return parsed["error"]


def client_error(response, status: int, code: str) -> dict:
    return error_of(response.status_code, response["Content-Type"], response.content, status, code)


# Ambiguous JSON ---------------------------------------------------------------------------------------------


def test_a_duplicated_key_is_refused_not_the_last_one_paid(api):
    response = api.post("/payouts", raw=b'{"amount": "1.00", "currency": "ARS", "amount": "2.00"}')
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "duplicate_json_key",
            "message": "The key 'amount' appears more than once in the request body: send each key once.",
            "param": "amount",
            "errors": [],
        }
    }
    assert Payout.objects.count() == 0


def test_a_duplicated_key_inside_metadata_is_refused(api):
    raw = b'{"type": "individual", "name": "Ana", "country": "AR", "metadata": {"tier": "gold", "tier": "silver"}}'
    response = api.post("/customers", raw=raw, headers={"Idempotency-Key": "dup-1"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "duplicate_json_key",
            "message": "The key 'tier' appears more than once in the object at 'metadata': send each key once.",
            "param": "metadata.tier",
            "errors": [],
        }
    }
    assert Customer.objects.count() == 0
    # The key was given back: the corrected request goes through with it.
    fixed = api.post("/customers", raw=raw.replace(b'"tier": "silver"', b'"band": "silver"'))
    assert fixed.status_code == 201, fixed.content


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'{"name": "a", "\\u006eame": "b"}', "name"),  # the same key once decoded
        (b'{"metadata": {"a": "1"}, "items": [{"k": 1}, {"k": 1, "k": 2}]}', "items.1.k"),
        (b'{"metadata": {"a": "1", "a": "1"}, "metadata": {}}', "metadata"),  # the outermost first
    ],
)
def test_duplicated_keys_anywhere(api, raw, param):
    error = client_error(api.post("/customers", raw=raw), 400, "duplicate_json_key")
    assert error["param"] == param


# Chunked bodies, through the test client (the environ a WSGI server gives) -------------------------------------


def chunked_post(api, path: str, body: bytes, *, terminated: bool = True, coding: str = "chunked", stream=None):
    """A POST as gunicorn hands it to Django: Transfer-Encoding set, no CONTENT_LENGTH, the chunks removed."""
    return api.client.generic(
        "POST",
        path,
        headers={"Authorization": f"Bearer {api.key}", "Transfer-Encoding": coding},
        CONTENT_TYPE="application/json",
        **{"wsgi.input": stream or io.BytesIO(body), "wsgi.input_terminated": terminated},
    )


def test_a_chunked_body_is_read(api):
    response = chunked_post(api, "/customers", b'{"type": "individual", "name": "Chunk", "country": "AR"}')
    assert response.status_code == 201, response.content
    assert Customer.objects.get().name == "Chunk"


def test_a_chunked_body_the_server_did_not_terminate_is_refused(api):
    response = chunked_post(api, "/customers", b'{"type": "individual"}', terminated=False)
    assert client_error(response, 411, "length_required")["message"] == "Send a Content-Length with the request body."


def test_a_chunked_body_over_the_limit_is_refused(api, settings):
    settings.API_MAX_BODY_BYTES = 100
    body = b'{"type": "individual", "name": "' + b"x" * 100 + b'", "country": "AR"}'
    client_error(chunked_post(api, "/customers", body), 413, "request_too_large")
    assert Customer.objects.count() == 0


def test_a_chunked_body_at_the_limit_is_read(api, settings):
    body = b'{"type": "individual", "name": "At the limit", "country": "AR"}'
    settings.API_MAX_BODY_BYTES = len(body)
    assert chunked_post(api, "/customers", body).status_code == 201


def test_another_transfer_coding_is_not_implemented(api):
    response = chunked_post(api, "/customers", b"\x1f\x8b", coding="gzip, chunked")
    assert client_error(response, 501, "not_implemented")["type"] == "api_error"


def test_a_malformed_chunk_is_a_bad_request(api):
    class Broken(io.RawIOBase):
        def read(self, size=-1):
            raise OSError("bad chunk size")

    client_error(chunked_post(api, "/customers", b"", stream=Broken()), 400, "bad_request")
