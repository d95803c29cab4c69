"""Shared fixtures: merchants with real keys, and an HTTP client that speaks the API."""

from dataclasses import dataclass
from typing import Any

import orjson
import pytest
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


@pytest.fixture
def staff(db) -> Client:
    """A logged-in superuser of the back-office."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("auditor", "auditor@example.com", "pw-long-enough-123")
    client = Client()
    client.force_login(user)
    return client


def run_at_once(count: int, target) -> list:
    """Run target() in `count` threads released together by a barrier; returns their results. Each
    thread closes its own database connection (threads get their own, as Django gives them)."""
    import threading

    from django.db import connections

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


@pytest.fixture
def merchant(db) -> MerchantKeys:
    return make_merchant("Acme")


@pytest.fixture
def other_merchant(db) -> MerchantKeys:
    return make_merchant("Other")


@pytest.fixture
def api(merchant) -> ApiClient:
    """Authenticated with the merchant's test key."""
    return ApiClient(merchant.test)


@pytest.fixture
def live_api(merchant) -> ApiClient:
    return ApiClient(merchant.live)


@pytest.fixture
def live_payouts_enabled(settings) -> None:
    """PAYOUT_LIVE_ENABLED on (off by default): live payouts are accepted, and wait for a bank rail."""
    settings.PAYOUT_LIVE_ENABLED = True


@pytest.fixture
def other_api(other_merchant) -> ApiClient:
    return ApiClient(other_merchant.test)


@pytest.fixture
def anon() -> ApiClient:
    return ApiClient(None)


DOC_CUSTOMER = {
    "type": "individual",
    "name": "Gerardo Ratto",
    "email": "gerardo@example.com",
    "country": "AR",
    "metadata": {"internalUserId": "USR-4421"},
}


@pytest.fixture
def create_customer(api):
    def create(client: ApiClient | None = None, **fields) -> dict:
        response = (client or api).post("/customers", {**DOC_CUSTOMER, **fields})
        assert response.status_code == 201, response.content
        return response.json()

    return create
