"""A real webhook receiver on 127.0.0.1, and running the task queue the way a worker does."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next status of `answers` (then 200); "hang" holds the request until
    the test ends."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int | str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, predicate, timeout: float = 60) -> bool:
        """Until predicate(requests) holds (woken by each request), or the timeout."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.requests), timeout)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            target: Receiver = state["receiver"]
            with target.changed:
                target.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                target.changed.notify_all()
            target.arrived.set()
            answer = target.answers.pop(0) if target.answers else 200
            if answer == "hang":
                target.released.wait(30)
                return
            self.send_response(answer)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_port}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    state["receiver"].released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def fast_retries(settings):
    """Retries due at once, so a worker draining the queue makes every attempt in one run."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
