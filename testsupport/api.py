"""What tests share: merchants with real keys, an HTTP client that speaks the API, threads released
together. Fixtures built on these are in conftest.py; tests import these names from here."""

import threading
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connections
from django.test import Client

from merchants.services import merchant_create


@dataclass
class MerchantKeys:
    merchant: Any
    test: str
    live: str
    test_key: Any
    live_key: Any


def make_merchant(name: str = "Acme") -> MerchantKeys:
    merchant, test_key, live_key = merchant_create(name=name)
    return MerchantKeys(merchant, test_key.secret, live_key.secret, test_key.api_key, live_key.api_key)


class ApiClient:
    """Sends real HTTP requests through the full stack, with a Bearer key."""

    def __init__(self, key: str | None = None):
        self.client = Client()
        self.key = key

    def _headers(self, key, headers):
        out = dict(headers or {})
        key = self.key if key is None else key
        if key:
            out["Authorization"] = f"Bearer {key}"
        return out

    def get(self, path: str, params: dict | None = None, *, key: str | None = None, headers=None):
        return self.client.get(path, params or {}, headers=self._headers(key, headers))

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        headers=None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ):
        data = raw if raw is not None else (b"" if body is None else orjson.dumps(body))
        return self.client.generic("POST", path, data, content_type=content_type, headers=self._headers(key, headers))

    def patch(self, path: str, body: Any = None, *, key: str | None = None, headers=None, raw: bytes | None = None):
        data = raw if raw is not None else orjson.dumps(body)
        return self.client.generic(
            "PATCH", path, data, content_type="application/json", headers=self._headers(key, headers)
        )

    def delete(self, path: str, *, key: str | None = None, headers=None):
        return self.client.generic("DELETE", path, headers=self._headers(key, headers))


def run_at_once(count: int, target) -> list:
    """Run target() in `count` threads released together by a barrier; returns their results. Each
    thread closes its own database connection (threads get their own, as Django gives them)."""
    barrier = threading.Barrier(count)
    results = []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(target())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


DOC_CUSTOMER = {
    "type": "individual",
    "name": "Gerardo Ratto",
    "email": "gerardo@example.com",
    "country": "AR",
    "metadata": {"internalUserId": "USR-4421"},
}
