"""Each kind of back-office search reaches its index (so a later change cannot quietly turn it back into a
scan of a million rows), pages walk every row, and a query over its time limit is cancelled in PostgreSQL."""

import re

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from audit.selectors import history_search
from compliance.roles import ANALYST
from compliance.tests.test_verification import staff_client
from core.search import Kind, parse_term
from customers.models import BankAccount, Customer
from customers.selectors import (
    bank_account_ids_with_tax_id,
    bank_accounts_search,
    bank_accounts_with_tax_id,
    customers_search,
)
from customers.tests.factories import make_cbu
from payouts.models import Payout
from payouts.selectors import payouts_search
from testsupport.api import make_merchant
from testsupport.factories import make_bank_account, make_customer, make_pending_payouts

NUMBER = make_cbu(account="1234567890123")


@pytest.fixture
def rows(db):
    """The searched rows among others unlike them, and fresh statistics: the planner then sees each search
    as the selective one it is (with stale statistics of other tests' rows, any plan may look cheapest)."""
    scope = make_merchant("Scale").test_key.scope
    for i in range(20):
        other = make_customer(scope, name=f"Other {i}", email=f"other{i}@example.com")
        make_bank_account(scope, other, make_cbu(account=f"{i:013d}"), metadata={"cuil": f"2000000000{i % 10}"})
        make_pending_payouts(scope, 1, number=make_cbu(account=f"{i:013d}"))
    customer = make_customer(scope, name="Gerardo Ratto", email="gerardo@example.com")
    account = make_bank_account(scope, customer, NUMBER, metadata={"cuit": "20221370075"})
    make_pending_payouts(scope, 2, number=NUMBER)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer, customers_bankaccount, payouts_payout, customers_customerhistory")
    return customer, account


def plan(queryset: QuerySet) -> str:
    """The plan PostgreSQL would run, with sequential scans priced out: on a table of a few rows a scan is
    cheapest, but the question is whether an index *can* serve the query, as it must at a million rows.
    Unordered: the list's ORDER BY id could be served by walking the primary key, which is not the question."""
    statement, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def uses(queryset: QuerySet, *indexes: str) -> None:
    text = plan(queryset)
    for index in indexes:
        assert re.search(rf"\b{index}\b", text), f"{index} not used:\n{text}"
    assert "Seq Scan" not in text, text


def test_terms_are_told_apart_by_their_shape():
    assert parse_term(" cust_" + "a" * 24).kind is Kind.PUBLIC_ID
    assert parse_term("20-22137007-5").kind is Kind.TAX_ID
    assert parse_term("1644").kind is Kind.LAST4
    assert parse_term("0070327530004025541644").kind is Kind.ACCOUNT_NUMBER
    assert parse_term("a@b.c").kind is Kind.EMAIL
    assert parse_term("ratto").kind is Kind.TEXT
    assert not parse_term("ra").searchable


def test_customer_searches_reach_their_indexes(rows):
    customer, account = rows
    customers = Customer.objects.order_by("-pk")
    cases = [
        (customer.public_id, ["customer_public_id_unique"]),
        (account.public_id, ["bank_account_public_id_unique"]),
        ("20-22137007-5", ["customers_customer_pkey"]),  # by the ids found first: see the next test
        (NUMBER[-4:], ["bank_account_last4"]),
        (NUMBER, ["bank_account_fingerprint"]),
        ("gerardo@example.com", ["customer_scope_email"]),
        ("ratt", ["customer_name_trgm", "customer_external_id_unique"]),
    ]
    for raw, indexes in cases:
        found = customers_search(customers, parse_term(raw))
        uses(found, *indexes)
        assert [c.public_id for c in found] == [customer.public_id], raw


def test_tax_id_search_reads_the_accounts_first_by_their_indexes(rows):
    _, account = rows
    uses(bank_accounts_with_tax_id("20221370075"), "bank_account_cuit", "bank_account_cuil")
    with CaptureQueriesContext(connection) as queries:
        assert bank_account_ids_with_tax_id("20221370075", "public_id") == [account.public_id]
    assert len(queries) == 1


def test_bank_account_searches_reach_their_indexes(rows):
    customer, account = rows
    accounts = BankAccount.objects.order_by("-pk")
    cases = [
        (account.public_id, ["bank_account_public_id_unique"]),
        (customer.public_id, ["customer_public_id_unique", "bank_account_customer_page"]),
        ("20221370075", ["customers_bankaccount_pkey"]),
        (NUMBER[-4:], ["bank_account_last4"]),
        (NUMBER, ["bank_account_fingerprint"]),
    ]
    for raw, indexes in cases:
        found = bank_accounts_search(accounts, parse_term(raw))
        uses(found, *indexes)
        assert [a.public_id for a in found] == [account.public_id], raw
    assert bank_accounts_search(accounts, parse_term("ratto")) is None  # names: the customers list


def test_payout_searches_reach_their_indexes(rows):
    payouts = Payout.objects.order_by("-pk")
    one_off = payouts.first()
    uses(payouts_search(payouts, parse_term(one_off.public_id)), "payout_public_id_unique")
    uses(payouts_search(payouts, parse_term(NUMBER[-4:])), "payout_destination_last4")
    uses(payouts_search(payouts, parse_term(NUMBER)), "payout_destination")
    # Unordered, either index on the customer serves: payout_customer_page, or the velocity hold's
    # payout_customer_recent (also led by the customer), whichever the planner prices lower on these rows.
    uses(payouts_search(payouts, parse_term("cust_" + "x" * 24)), "payout_customer_(page|recent)")
    assert payouts_search(payouts, parse_term(NUMBER)).count() == 2  # one-off payouts too (no customer)


def test_history_search_reaches_the_object_index(rows):
    customer, _ = rows
    from django.apps import apps

    history = apps.get_model("customers", "CustomerHistory").objects.order_by("-pk")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [history.model._meta.db_table, "%(pgh_obj_id)%"],
        )
        (obj_index,) = cursor.fetchone()
    found = history_search(history, parse_term(customer.public_id))
    uses(found, "customer_public_id_unique", obj_index)
    assert {event.public_id for event in found} == {customer.public_id}


@pytest.mark.django_db
def test_keyset_pages_reach_every_row_both_ways(monkeypatch):
    from customers.admin import CustomerAdmin

    monkeypatch.setattr(CustomerAdmin, "list_per_page", 2)
    scope = make_merchant("Pages").test_key.scope
    made = [make_customer(scope, name=f"C{i}").public_id for i in range(5)]
    analyst = staff_client("ana", ANALYST)
    url = "/admin/customers/customer/"

    def walk(start: str, rel: str) -> list[list[str]]:
        pages, next_url = [], start
        while next_url is not None:
            text = analyst.get(url + next_url.replace("&amp;", "&")).content.decode()
            pages.append(re.findall(r"cust_[A-Za-z0-9]{24}", text.split('id="result_list"')[1])[::1])
            link = re.search(rf'<a href="(\?[^"]*)" rel="{rel}">', text)
            next_url = link.group(1) if link else None
        return [list(dict.fromkeys(page)) for page in pages]

    newest_first = made[::-1]
    assert walk("", "next") == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    assert walk("?last=1", "prev") == [newest_first[3:5], newest_first[1:3], newest_first[0:1]]


@pytest.mark.django_db
def test_counts_say_whether_they_are_exact(monkeypatch):
    from compliance import admin_bases
    from customers.admin import CustomerAdmin

    scope = make_merchant("Counts").test_key.scope
    made = [make_customer(scope, name=f"C{i}", country="UY").public_id for i in range(5)]
    analyst = staff_client("ana", ANALYST)

    def count(query: str) -> str:
        text = analyst.get("/admin/customers/customer/" + query).content.decode()
        return re.search(r'id="result-count">([^<]*)<', text).group(1)

    assert count("") == "5 customers"
    assert count("?q=" + made[2]) == "1 customer"
    monkeypatch.setattr(admin_bases, "COUNT_UP_TO", 2)
    monkeypatch.setattr(CustomerAdmin, "list_per_page", 2)
    assert count("?country__exact=UY") == "more than 2 customers"
    monkeypatch.setattr(admin_bases, "EXACT_TABLE_UP_TO", 2)
    monkeypatch.setattr(admin_bases, "table_estimate", lambda model: (1_000_000, False))
    assert count("") == "about 1,000,000 customers"


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: the cancel must not end a test transaction
def test_a_back_office_query_over_its_time_limit_is_cancelled_in_postgresql(settings, monkeypatch):
    from customers.admin import CustomerAdmin

    settings.BACK_OFFICE_STATEMENT_TIMEOUT = 0.2
    scope = make_merchant("Slow").test_key.scope
    make_customer(scope)
    slow = Customer.objects.extra(where=["(SELECT true FROM pg_sleep(3600))"])
    monkeypatch.setattr(CustomerAdmin, "get_queryset", lambda self, request: slow)
    analyst = staff_client("ana", ANALYST)

    response = analyst.get("/admin/customers/customer/")

    assert response.status_code == 503
    assert "stopped this page's query after 0.2 seconds" in response.content.decode()
    with connection.cursor() as cursor:
        others = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()"
        cursor.execute(others, ["%pg_sleep(3600)%"])
        assert cursor.fetchone()[0] == 0  # nothing of the page's query is left running in the server
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"  # and the connection is handed on without the back-office's limit


@pytest.mark.django_db
def test_the_whole_list_sorts_by_name_a_filtered_one_stays_newest_first():
    scope = make_merchant("Sort").test_key.scope
    made = {name: make_customer(scope, name=name).public_id for name in ("Bruno", "Ana", "Carla")}
    analyst = staff_client("ana", ANALYST)

    def listed(query: str) -> list[str]:
        text = analyst.get("/admin/customers/customer/" + query).content.decode().split('id="result_list"')[1]
        return [name for _, name in sorted((text.index(public_id), name) for name, public_id in made.items())]

    assert listed("?o=2") == ["Ana", "Bruno", "Carla"]
    assert listed("?o=2&country__exact=AR") == ["Carla", "Ana", "Bruno"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/admin/customers/customer/", "/admin/payouts/payout/", "/admin/customers/customerhistory/"]
)
def test_per_option_counts_are_off_and_say_so(url):
    make_customer(make_merchant("Facets").test_key.scope)
    analyst = staff_client("ana", ANALYST)
    with CaptureQueriesContext(connection) as plain:
        analyst.get(url)
    with CaptureQueriesContext(connection) as asked:
        text = analyst.get(url + "?_facets=True").content.decode()
    assert len(asked) == len(plain)  # no counting query added
    assert "Show counts" not in text and "Counts per filter option are off on this list" in text


def test_the_review_queue_reads_flagged_accounts_off_its_index_from_the_cursor_on(rows):
    """The account half of a queue page (compliance.queue): the index (flagged_at, id) in order, no sort,
    and a later page starts at its cursor by the index's own condition (a row comparison), not by a filter
    that reads past an earlier page's accounts flagged at the same time."""
    from compliance import queue

    BankAccount.objects.update(needs_review=True, review_reason="Checked by hand.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_bankaccount")
    last = BankAccount.objects.order_by("flagged_at", "id")[3]
    for after in (queue.START, queue.Cursor(0, last.flagged_at, last.pk)):
        with CaptureQueriesContext(connection) as captured:
            page = queue.queue_page(queue.Filters(), after=after, size=5)
        (sql,) = [q["sql"] for q in captured if 'FROM "customers_bankaccount"' in q["sql"] and "ORDER BY" in q["sql"]]
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
            text = "\n".join(row[0] for row in cursor.fetchall())
        assert re.search(r"Index Scan using bank_account_review_queue\b", text), text
        assert "Sort" not in text, text
        if after.account_flagged_at is not None:
            assert "Index Cond: (ROW(flagged_at, id) > ROW(" in text, text
            assert page.items[0].pk != last.pk
