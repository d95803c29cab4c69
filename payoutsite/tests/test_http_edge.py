"""The edges of HTTP: ambiguous JSON, chunked bodies, and the errors gunicorn answers before Django runs.

The first tests go through Django's test client. The others start the real server the way production does
(`gunicorn payoutsite.wsgi -c gunicorn.conf.py`) and talk raw HTTP over a socket: a client library would
refuse to send most of these requests.
"""

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from customers.models import Customer
from payouts.models import Payout
from testsupport.api import make_merchant
from testsupport.databases import running_test_database_url

ROOT = Path(__file__).resolve().parents[2]
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
        (b'{"' + b"k" * 5000 + b'": 1, "' + b"k" * 5000 + b'": 2}', "k" * 100 + "…"),  # never echoed whole
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


# The real server ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:  # the server closed with our unread bytes in its buffer
                break
            if not data:
                break
            received += data
    return received


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """gunicorn with the project's gunicorn.conf.py, on the test database, one worker on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    url = running_test_database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "payoutsite.test_settings",
        "DATABASE_URL": url,
        "CONN_MAX_AGE": "0",  # no connection left open on the test database when the module ends
        "WEB_CONCURRENCY": "1",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "payoutsite.wsgi", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--no-control-socket"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"gunicorn exited: {log.read_text()}"
            try:
                if parse_response(exchange(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", 2))[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"gunicorn not ready within 30 s: {log.read_text()}"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_error(port: int, request: bytes, status: int, code: str) -> tuple[dict, bytes]:
    raw = exchange(port, request)
    got, headers, body = parse_response(raw)
    error = error_of(got, headers.get("content-type", ""), body, status, code)
    assert int(headers["content-length"]) == len(body)
    assert headers["connection"] == "close"
    assert headers["request-id"].startswith("req_")
    return error, raw


def test_a_control_character_in_a_header_is_a_json_400(server):
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Note: a\x01secret\r\n\r\n"
    error, raw = server_error(server, request, 400, "invalid_header")
    assert error == {
        "type": "invalid_request_error",
        "code": "invalid_header",
        "message": "A request header is malformed (its name, its value or its framing).",
        "param": None,
        "errors": [],
    }
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"secret" not in raw and b"x-note" not in raw.lower()


def test_a_10_kb_header_is_a_json_431(server):
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 10240 + b"\r\n\r\n"
    error, raw = server_error(server, request, 431, "headers_too_large")
    assert error["type"] == "invalid_request_error"
    assert b"bbbbbbbb" not in raw


def test_a_5_kb_uri_is_a_json_414(server):
    request = b"GET /customers?q=" + b"u" * 5 * 1024 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
    _, raw = server_error(server, request, 414, "uri_too_long")
    assert raw.startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    assert b"uuuuuuuu" not in raw


def test_an_unknown_transfer_coding_is_a_json_501(server):
    request = b"POST /customers HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: zstd\r\n\r\n"
    error, _ = server_error(server, request, 501, "not_implemented")
    assert error["type"] == "api_error"


def test_an_unknown_expectation_is_a_json_417(server):
    request = b"POST /customers HTTP/1.1\r\nHost: localhost\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}"
    server_error(server, request, 417, "expectation_failed")


def test_a_request_line_that_is_not_http_is_a_json_400(server):
    server_error(server, b"HELLO THERE\r\n\r\n", 400, "bad_request")


def chunked(path: str, key: str, body: bytes, size: int = 16) -> bytes:
    pieces = [body[start : start + size] for start in range(0, len(body), size)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    return head.encode() + chunks + b"0\r\n\r\n"


def test_a_chunked_body_over_the_limit_is_a_json_413_before_any_key_check(server, settings):
    body = b'{"name": "' + b"x" * settings.API_MAX_BODY_BYTES + b'"}'
    server_error(server, chunked("/customers", "sk_test_none", body, size=8192), 413, "request_too_large")


def test_a_malformed_chunk_is_a_json_400(server):
    request = chunked("/customers", "sk_test_none", b"{}").replace(b"2\r\n{}", b"zz\r\n{}")
    error, _ = server_error(server, request, 400, "bad_request")
    assert error["message"] == "The chunked request body is malformed."


@pytest.mark.django_db(transaction=True)
def test_a_chunked_post_is_read_by_the_real_server(server):
    keys = make_merchant("Chunked")
    unknown = b'{"type": "individual", "name": "Ana", "country": "AR", "nick": "x"}'
    got, headers, body = parse_response(exchange(server, chunked("/customers", keys.test, unknown)))
    error = error_of(got, headers["content-type"], body, 400, "parameter_invalid")
    assert [(e["param"], e["code"]) for e in error["errors"]] == [("nick", "parameter_unknown")]

    created = b'{"type": "individual", "name": "Read in chunks", "country": "AR"}'
    got, headers, body = parse_response(exchange(server, chunked("/customers", keys.test, created)))
    assert got == 201, body
    assert orjson.loads(body)["name"] == "Read in chunks"
    assert Customer.objects.get(merchant=keys.merchant).name == "Read in chunks"


# The replacement itself ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "mesg", "code", "error_type"),
    [
        (400, "Bad Request", "Invalid HTTP header name: 'X\\x00'", "invalid_header", "invalid_request_error"),
        (400, "Bad Request", "Obsolete line folding is unacceptable: 'X-A'", "invalid_header", "invalid_request_error"),
        (400, "Bad Request", "Invalid chunk size: b'zz'", "bad_request", "invalid_request_error"),
        (403, "Forbidden", "Request forbidden", "forbidden", "invalid_request_error"),
        (500, "Internal Server Error", "", "internal_error", "api_error"),
        (500, "Bad Request", "Configuration problem: x", "internal_error", "api_error"),
        (418, "I'm a teapot", "", "bad_request", "invalid_request_error"),
        (503, "Service Unavailable", "", "internal_error", "api_error"),
    ],
)
def test_every_status_gunicorn_answers_has_a_code(status, reason, mesg, code, error_type):
    from payoutsite.http_server import error_response

    raw = error_response(status, reason, mesg, "req_x")
    got, headers, body = parse_response(raw)
    error = error_of(got, headers["content-type"], body, status, code)
    assert error["type"] == error_type and error["param"] is None and error["errors"] == []
    assert int(headers["content-length"]) == len(body) and headers["connection"] == "close"
    assert raw.startswith(f"HTTP/1.1 {status} {reason}\r\n".encode())


def test_install_refuses_a_write_error_it_does_not_know(monkeypatch):
    from gunicorn import util

    from payoutsite import http_server

    monkeypatch.setattr(util, "write_error", lambda sock, status_int, reason, mesg, extra: None)
    with pytest.raises(RuntimeError, match=r"is not the function payoutsite\.http_server replaces"):
        http_server.install()
    monkeypatch.setattr(util, "write_error", lambda sock, status_int, reason, mesg: None)
    http_server.install()
    http_server.install()  # a second time (a HUP re-reads gunicorn.conf.py): nothing changes
    assert util.write_error is http_server.write_error


def test_the_one_access_log_is_the_apps_and_gunicorns_own_errors_are_logged_with_their_request_id(caplog):
    """gunicorn keeps no access log (it would log every request a second time, beside payoutsite.access);
    an error gunicorn answers itself, which the app never sees, is logged with the Request-Id it sent."""
    import logging
    import runpy

    from payoutsite.http_server import write_error

    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["accesslog"] is None
    ours, theirs = socket.socketpair()
    with ours, theirs, caplog.at_level(logging.INFO, logger="payoutsite.access"):
        write_error(ours, 431, "Request Header Fields Too Large", "Error parsing headers: 'x'")
        _, headers, _ = parse_response(theirs.recv(65536))
    assert f"request_id={headers['request-id']} status=431 answered_by=gunicorn" in caplog.messages
