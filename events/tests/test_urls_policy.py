"""Where webhooks may go, address by address, and a POST's timeout bounding the whole exchange."""

import socket
import threading

import pytest

from events import sending, urls_policy


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "::7f00:1",
        "::ffff:0:7f00:1",
        "64:ff9b::a00:1",
        "64:ff9b:1::a00:1",
        "2002:7f00:1::1",
        "2001:db8::1",
        "ff02::1",
        "224.0.0.1",
    ],
)
def test_private_loopback_link_local_and_embedded_forms_are_not_public(address):
    assert not urls_policy.is_public(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.215.14"])
def test_public_addresses_are_public(address):
    assert urls_policy.is_public(address)


def test_test_mode_refuses_private_addresses_unless_allowed(settings, monkeypatch):
    monkeypatch.setattr(urls_policy, "resolve", lambda host, port: ("10.0.0.7",))
    settings.WEBHOOK_ALLOW_PRIVATE_TEST_URLS = False
    with pytest.raises(urls_policy.DestinationRefused, match="url_not_public"):
        urls_policy.target("http://internal.example/x", livemode=False)
    settings.WEBHOOK_ALLOW_PRIVATE_TEST_URLS = True
    assert urls_policy.target("http://internal.example/x", livemode=False).addresses == ("10.0.0.7",)


def test_link_local_is_refused_in_every_mode(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_TEST_URLS = True
    monkeypatch.setattr(urls_policy, "resolve", lambda host, port: ("169.254.169.254",))
    with pytest.raises(urls_policy.DestinationRefused, match="url_not_public"):
        urls_policy.target("http://metadata.example/latest", livemode=False)


def test_a_non_ascii_url_is_refused_at_creation(api):
    response = api.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/ganó", "enabledEvents": ["*"]})
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["code"] == "url_invalid"


def test_a_receiver_trickling_its_answer_is_cut_at_the_timeout():
    """One byte at a time, each well within the per-read timeout: the whole exchange is still cut."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def trickle():
        connection, _ = server.accept()
        connection.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
            if stop.wait(0.05):
                break
            connection.sendall(bytes([byte]))
        connection.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        answer = sending.post(f"http://127.0.0.1:{server.getsockname()[1]}/", b"{}", {}, livemode=False, timeout=0.5)
    finally:
        stop.set()
        server.close()
    assert (answer.succeeded, answer.error) == (False, "timeout")
