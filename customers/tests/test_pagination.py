"""GET /customers: newest first, keyset pages forward and backward, filters, strict parameters."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Customer
from testsupport.api import ApiClient, make_merchant
from testsupport.factories import make_customer


def seed(merchant, count: int, **fields) -> list[str]:
    """Create customers oldest first; returns their ids newest first, as the list shows them."""
    ids = []
    for i in range(count):
        ids.append(make_customer(merchant.test_key.scope, **{"name": f"Customer {i}", **fields}).public_id)
    return ids[::-1]


def walk(api, params=None, limit=7, **cursor) -> tuple[list[str], list[dict]]:
    seen, pages = [], []
    params = {"limit": limit, **(params or {})}
    while True:
        body = api.get("/customers", {**params, **cursor}).json()
        pages.append(body)
        seen += [c["customerId"] for c in body["data"]]
        if not body["hasMore"]:
            return seen, pages
        cursor = {"startingAfter": body["data"][-1]["customerId"]}


def test_default_page_is_50_newest_first(api, merchant):
    ids = seed(merchant, 55)
    body = api.get("/customers").json()
    assert [c["customerId"] for c in body["data"]] == ids[:50]
    assert body["hasMore"] is True


def test_empty_list(api):
    assert api.get("/customers").json() == {"data": [], "hasMore": False}


def test_walk_forward_sees_everyone_once(api, merchant):
    ids = seed(merchant, 30)
    seen, pages = walk(api, limit=7)
    assert seen == ids
    assert [len(p["data"]) for p in pages] == [7, 7, 7, 7, 2]


def test_exact_multiple_has_no_empty_trailing_page(api, merchant):
    ids = seed(merchant, 14)
    seen, pages = walk(api, limit=7)
    assert seen == ids and len(pages) == 2


def test_walk_backward_with_ending_before(api, merchant):
    ids = seed(merchant, 30)
    oldest = ids[-1]
    seen, cursor = [], {"endingBefore": oldest}
    while True:
        body = api.get("/customers", {"limit": 8, **cursor}).json()
        seen = [c["customerId"] for c in body["data"]] + seen
        if not body["hasMore"]:
            break
        cursor = {"endingBefore": body["data"][0]["customerId"]}
    assert seen == ids[:-1]


def test_ending_before_returns_the_page_just_before(api, merchant):
    ids = seed(merchant, 10)
    body = api.get("/customers", {"limit": 3, "endingBefore": ids[6]}).json()
    assert [c["customerId"] for c in body["data"]] == ids[3:6]
    assert body["hasMore"] is True
    body = api.get("/customers", {"limit": 3, "endingBefore": ids[3]}).json()
    assert [c["customerId"] for c in body["data"]] == ids[0:3]
    assert body["hasMore"] is False


def test_cursor_at_the_end_gives_an_empty_page(api, merchant):
    ids = seed(merchant, 3)
    assert api.get("/customers", {"startingAfter": ids[-1]}).json() == {"data": [], "hasMore": False}
    assert api.get("/customers", {"endingBefore": ids[0]}).json() == {"data": [], "hasMore": False}


def test_inserts_during_a_walk_neither_skip_nor_repeat(api, merchant):
    ids = seed(merchant, 40)
    seen, cursor = [], {}
    while True:
        body = api.get("/customers", {"limit": 9, **cursor}).json()
        seen += [c["customerId"] for c in body["data"]]
        seed(merchant, 3)  # new customers arrive between pages
        if not body["hasMore"]:
            break
        cursor = {"startingAfter": body["data"][-1]["customerId"]}
    assert seen == ids


@pytest.mark.django_db(transaction=True)
def test_walk_with_concurrent_writer_thread():
    """A real writer thread inserts while a reader walks: the walk is exactly the customers that existed."""
    merchant = make_merchant("Busy")
    ids = seed(merchant, 150)
    stop = threading.Event()

    def writer():
        from django.db import connection

        try:
            while not stop.is_set():
                seed(merchant, 1)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        # Start from the newest customer that existed before the writer began, then walk to the end.
        seen, _ = walk(ApiClient(merchant.test), limit=10, startingAfter=ids[0])
    finally:
        stop.set()
        thread.join()
    assert Customer.objects.filter(merchant=merchant.merchant).count() > 150
    assert [ids[0], *seen] == ids


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", "", "٣", "99999999999999999999"])
def test_bad_limit_is_400(api, limit):
    response = api.get("/customers", {"limit": limit})
    assert response.status_code == 400
    assert response.json()["error"]["errors"] == [
        {"param": "limit", "code": "parameter_invalid", "message": "limit must be an integer from 1 to 200."}
    ]


def test_limit_bounds(api, merchant):
    seed(merchant, 3)
    assert len(api.get("/customers", {"limit": "1"}).json()["data"]) == 1
    assert len(api.get("/customers", {"limit": "200"}).json()["data"]) == 3


@pytest.mark.parametrize("param", ["startingAfter", "endingBefore"])
@pytest.mark.parametrize("value", ["cust_" + "A" * 24, "cust_1", "ba_" + "A" * 24, "", "x\x00"])
def test_unknown_cursor_is_400(api, merchant, param, value):
    seed(merchant, 2)
    response = api.get("/customers", {param: value})
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["code"] == "cursor_invalid"
    assert response.json()["error"]["param"] == param


def test_both_cursors_is_400(api, merchant):
    ids = seed(merchant, 3)
    response = api.get("/customers", {"startingAfter": ids[0], "endingBefore": ids[2]})
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["code"] == "parameter_conflict"


def test_unknown_and_repeated_query_parameters_are_400(api):
    response = api.get("/customers?limit=5&limit=6&starting_after=x")
    assert response.status_code == 400
    assert {(e["param"], e["code"]) for e in response.json()["error"]["errors"]} == {
        ("starting_after", "parameter_unknown"),
        ("limit", "parameter_invalid"),
    }


def test_filters(api, merchant):
    seed(merchant, 2, email="a@example.com")
    seed(merchant, 3, type="business", country="UY")
    assert len(api.get("/customers", {"email": "a@example.com"}).json()["data"]) == 2
    assert len(api.get("/customers", {"type": "business"}).json()["data"]) == 3
    assert len(api.get("/customers", {"country": "UY", "type": "business"}).json()["data"]) == 3
    assert len(api.get("/customers", {"country": "AR"}).json()["data"]) == 2
    assert api.get("/customers", {"email": "nobody@example.com"}).json()["data"] == []


def test_created_at_range(api, merchant):
    now = timezone.now().replace(microsecond=0)
    ids = seed(merchant, 4)
    for offset, customer_id in zip((1, 2, 3, 4), ids, strict=True):
        Customer.objects.filter(public_id=customer_id).update(created_at=now - timedelta(days=offset))
    day = lambda n: (now - timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    params = {"createdAt[gte]": day(3), "createdAt[lt]": day(1)}
    assert [c["customerId"] for c in api.get("/customers", params).json()["data"]] == ids[1:3]
    assert [c["customerId"] for c in api.get("/customers", {"createdAt[lte]": day(3)}).json()["data"]] == ids[2:]
    assert [c["customerId"] for c in api.get("/customers", {"createdAt[gt]": day(2)}).json()["data"]] == ids[:1]


@pytest.mark.parametrize(
    "value", ["0121-10-23T12:59:01+23:44", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2026-01-01"]
)
def test_any_rfc3339_time_is_a_valid_bound(api, merchant, value):
    seed(merchant, 1)
    for lookup in ("gt", "gte", "lt", "lte"):
        response = api.get("/customers", {f"createdAt[{lookup}]": value})
        assert response.status_code == 200, response.content
        assert response.json()["hasMore"] is False


@pytest.mark.parametrize("name", ["email", "type", "country", "createdAt[gte]"])
def test_empty_filter_value_is_400(api, name):
    response = api.get("/customers", {name: ""})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == name


def test_filters_with_pagination(api, merchant):
    business = seed(merchant, 5, type="business")
    seed(merchant, 5)
    seen, _ = walk(api, {"type": "business"}, limit=2)
    assert seen == business


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"type": "robot"}, "type"),
        ({"country": "ZZ"}, "country"),
        ({"createdAt[gte]": "yesterday"}, "createdAt[gte]"),
        ({"email": "x" * 300}, "email"),
        ({"email": "a\x00b"}, "email"),
    ],
)
def test_bad_filter_values_are_400(api, params, param):
    response = api.get("/customers", params)
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["param"] == param


def test_list_scoped_to_merchant_and_mode(api, live_api, other_api, merchant):
    mine = seed(merchant, 3)
    make_customer(merchant.live_key.scope, name="Live")
    assert [c["customerId"] for c in api.get("/customers").json()["data"]] == mine
    assert len(live_api.get("/customers").json()["data"]) == 1
    assert other_api.get("/customers").json()["data"] == []
