"""One webhook POST: to an address checked by events.urls_policy (each in turn until one connects), cut
at the timeout for the whole exchange (a watchdog shuts the socket at the deadline, so a receiver trickling
bytes is cut too), no redirects followed, only the first 1 KB of the answer kept."""

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from events.urls_policy import DestinationRefused, Target, target

EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class Answer:
    succeeded: bool
    status_code: int | None
    error: str
    duration_ms: int
    excerpt: str


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, not to whatever the name resolves to by then."""

    def __init__(self, address: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, address: str, *args, **kwargs):
        super().__init__(*args, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, livemode: bool, timeout: float) -> Answer:
    started = time.monotonic()
    try:
        where = target(url, livemode=livemode)
        status, excerpt = _post(where, body, headers, timeout=timeout, started=started)
    except DestinationRefused as refused:
        return _answer(started, error=str(refused))
    except TimeoutError:
        return _answer(started, error="timeout")
    except ssl.SSLError as exc:
        return _answer(started, error=f"tls_error: {exc.reason or exc.__class__.__name__}"[:200])
    except (OSError, http.client.HTTPException) as exc:
        return _answer(started, error=f"connection_error: {exc.__class__.__name__}: {exc}"[:200])
    return _answer(started, status_code=status, excerpt=excerpt)


def _post(where: Target, body: bytes, headers: dict[str, str], *, timeout: float, started: float) -> tuple[int, str]:
    kind = _PinnedHTTPSConnection if where.scheme == "https" else _PinnedHTTPConnection
    deadline = started + timeout
    for index, address in enumerate(where.addresses):
        connection = kind(address, where.host, where.port, timeout=max(deadline - time.monotonic(), 0.001))
        try:
            connection.connect()
        except (ConnectionError, TimeoutError, OSError):
            connection.close()
            if index + 1 < len(where.addresses) and time.monotonic() < deadline:
                continue
            raise
        return _exchange(connection, where, body, headers, deadline)
    raise DestinationRefused("url_not_resolvable")


def _exchange(connection, where: Target, body: bytes, headers: dict[str, str], deadline: float) -> tuple[int, str]:
    cut = threading.Event()

    def watchdog():
        cut.set()
        try:
            connection.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass

    timer = threading.Timer(max(deadline - time.monotonic(), 0), watchdog)
    timer.start()
    try:
        connection.request("POST", where.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        if cut.is_set():
            raise TimeoutError
        return response.status, excerpt
    except (OSError, http.client.HTTPException):
        if cut.is_set():
            raise TimeoutError from None
        raise
    finally:
        timer.cancel()
        connection.close()


def _answer(started: float, *, status_code: int | None = None, error: str = "", excerpt: str = "") -> Answer:
    return Answer(
        succeeded=status_code is not None and 200 <= status_code < 300,
        status_code=status_code,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
        excerpt=excerpt,
    )
