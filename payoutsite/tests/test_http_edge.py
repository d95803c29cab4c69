"""The edges of HTTP: ambiguous JSON, chunked bodies, and the errors gunicorn answers before Django runs."""

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
