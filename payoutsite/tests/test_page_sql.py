"""An unfiltered list page runs SQL built once (core.pagination._page_statement): the same rows, in the same
order, with the same values (JSON decoded, times aware) as the ORM's query for it, in one query."""

import pytest
from django.db import connection
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext

from core.pagination import PageRequest, _orm_page, _prebuilt_page
from customers import selectors as customer_selectors
from customers.tests.factories import make_cbu
from testsupport.api import make_merchant
from testsupport.factories import make_bank_account, make_customer

pytestmark = pytest.mark.django_db


def pages(rows_total: list[str]) -> list[PageRequest]:
    """First pages, and pages either side of a cursor in the middle and at both ends."""
    middle, newest, oldest = rows_total[len(rows_total) // 2], rows_total[0], rows_total[-1]
    out = [PageRequest(limit, None, None) for limit in (1, 3, 50)]
    for cursor in (middle, newest, oldest):
        out += [PageRequest(3, cursor, None), PageRequest(3, None, cursor), PageRequest(50, cursor, None)]
    return out


def same_page_both_ways(queryset, fields, scope_columns, scope_values, cursor_pk, page) -> list[dict]:
    with CaptureQueriesContext(connection) as captured:
        prebuilt = _prebuilt_page(queryset.model, fields, scope_columns, scope_values, cursor_pk, page)
    assert len(captured) == 1
    orm = _orm_page(queryset, cursor_pk, page, fields, scope_columns)
    assert prebuilt == orm
    assert [type(value) for row in prebuilt for value in row.values()] == [
        type(value) for row in orm for value in row.values()
    ]
    return prebuilt


def test_customer_pages_match_the_orm():
    keys = make_merchant("Pages")
    other = make_merchant("Other")
    scope = keys.test_key.scope
    ids = []
    for i in range(7):
        metadata = {"n": str(i), "nested": "x"} if i % 2 else {}
        customer = make_customer(scope, name=f"C {i}", metadata=metadata, email=f"c{i}@example.com")
        ids.append(customer.public_id)
    make_customer(other.test_key.scope, name="Elsewhere")
    make_customer(keys.live_key.scope, name="Live")
    ids.reverse()  # newest first
    base = customer_selectors.customers_in_scope(scope=scope)
    cursor_pk = customer_selectors._cursor_pk(scope)
    seen = []
    for page in pages(ids):
        rows = same_page_both_ways(
            base,
            customer_selectors.CUSTOMER_FIELDS,
            ("merchant_id", "livemode"),
            (scope.merchant_id, scope.livemode),
            cursor_pk,
            page,
        )
        seen.append(rows)
    first = seen[2]
    assert [row["public_id"] for row in first] == ids
    assert any(row["metadata"] == {"n": "1", "nested": "x"} for row in first)
    assert all(row["created_at"].tzinfo is not None for row in first)


def test_bank_account_pages_match_the_orm():
    keys = make_merchant("Accounts")
    scope = keys.test_key.scope
    customer = make_customer(scope, name="Holder")
    ids = []
    for i in range(5):
        account = make_bank_account(scope, customer, make_cbu(account=f"{i + 1:013d}"), metadata={"i": str(i)})
        ids.append(account.public_id)
    ids.reverse()
    base = customer_selectors.bank_accounts_of(customer=customer)

    def cursor_pk(public_id):
        return RawSQL(
            "SELECT id FROM customers_bankaccount WHERE public_id = %s AND customer_id = %s", [public_id, customer.pk]
        )

    for page in pages(ids):
        same_page_both_ways(
            base, customer_selectors.BANK_ACCOUNT_FIELDS, ("customer_id",), (customer.pk,), cursor_pk, page
        )


def test_the_list_endpoint_sends_the_prebuilt_page(api, merchant):
    for i in range(3):
        make_customer(merchant.test_key.scope, name=f"C {i}")
    with CaptureQueriesContext(connection) as captured:
        body = api.get("/customers", {"limit": 2}).json()
    assert len(body["data"]) == 2 and body["hasMore"] is True
    page_sql = [q["sql"] for q in captured if 'FROM "customers_customer"' in q["sql"]]
    assert len(page_sql) == 1 and page_sql[0].rstrip().endswith("LIMIT 3")
