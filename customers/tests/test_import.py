"""import_customers: the API's rules on every row, bad rows reported, re-runs and kills import once."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from api.errors import field_errors
from customers.importing import InputChecker
from customers.models import BankAccount, Customer
from customers.review import SHARED_NUMBER_REASON
from customers.serializers import BankAccountCreateInput, CustomerCreateInput
from customers.tests.factories import DOC_ACCOUNT_NUMBER, make_cbu
from testsupport.api import make_merchant
from testsupport.databases import running_test_database_url

ROOT = Path(__file__).resolve().parents[2]
HEADER = "externalId,type,name,email,country,metadata.segment,accountNumber,accountType,holderName,bankMetadata.cuit"
MIXED = f"""{HEADER}
c-1,individual,Gerardo Ratto,gerardo@example.com,AR,gold,{DOC_ACCOUNT_NUMBER},savings,Gerardo Ratto,20221370075
c-2,business,Acme SA,,AR,,,,,
c-1,individual,Gerardo Ratto,gerardo@example.com,AR,gold,{make_cbu()},checking,Gerardo Ratto,
c-3,person,X,,ZZ,,0070327530004025541645,savings,,
,individual,No Id,,AR,,,,,
c-4,individual,Bad Cuit,,AR,,{make_cbu(account="0000000000042")},savings,Bad,20221370076
"""
BLOCK_MESSAGE = "accountNumber's second block (account, digits 9-22) fails its check digit."
MIXED_ERRORS = f"""row,column,code,message
5,type,parameter_invalid_choice,\"\"\"person\"\" is not a valid choice.\"
5,country,invalid_country,'ZZ' is not an ISO 3166-1 alpha-2 country code (e.g. 'AR').
5,holderName,parameter_missing,This field is required.
5,accountNumber,account_number_invalid_account_block,"{BLOCK_MESSAGE}"
6,externalId,parameter_missing,externalId is needed to match customers.
7,bankMetadata.cuit,invalid_cuit,metadata.cuit is not a valid CUIT.
"""


def run_import(tmp_path, merchant, content: str, *args, name="customers.csv", expect_failures=False):
    """Runs the command; returns its summary line and the errors file."""
    source = tmp_path / name
    source.write_text(content)
    errors = tmp_path / "errors.csv"
    out = io.StringIO()
    command = ["import_customers", str(source), "--merchant", merchant.public_id, "--errors", str(errors), *args]
    if expect_failures:
        with pytest.raises(CommandError) as failure:
            call_command(*command, stdout=out, stderr=io.StringIO())
        assert failure.value.returncode == 1
    else:
        call_command(*command, stdout=out, stderr=io.StringIO())
    return out.getvalue(), errors.read_text()


def test_good_rows_are_imported_and_bad_rows_reported_exactly(tmp_path, merchant):
    output, errors = run_import(tmp_path, merchant.merchant, MIXED, expect_failures=True)
    assert output.startswith("read 6, created 3, updated 0, unchanged 0, failed 3")
    assert errors == MIXED_ERRORS
    gerardo = Customer.objects.get(external_id="c-1")
    assert (gerardo.name, gerardo.email, gerardo.metadata) == (
        "Gerardo Ratto",
        "gerardo@example.com",
        {"segment": "gold"},
    )
    accounts = list(gerardo.bank_accounts.order_by("id"))
    assert [a.account_number_last4 for a in accounts] == ["1644", make_cbu()[-4:]]
    assert accounts[0].metadata == {"cuit": "20221370075"}
    assert gerardo.default_bank_account_id == accounts[0].public_id  # the first account
    acme = Customer.objects.get(external_id="c-2")
    assert (acme.type, acme.email, acme.default_bank_account_id) == ("business", "", None)
    assert not Customer.objects.filter(external_id__in=["c-3", "c-4"]).exists()


def test_a_rerun_creates_nothing(tmp_path, merchant):
    run_import(tmp_path, merchant.merchant, MIXED, expect_failures=True)
    before = (Customer.objects.count(), BankAccount.objects.count())
    output, _ = run_import(tmp_path, merchant.merchant, MIXED, expect_failures=True)
    assert output.startswith("read 6, created 0, updated 0, unchanged 3, failed 3")
    assert (Customer.objects.count(), BankAccount.objects.count()) == before == (2, 2)


def test_a_changed_file_updates_names_and_merges_metadata_but_not_type(tmp_path, merchant):
    run_import(tmp_path, merchant.merchant, f"{HEADER}\nc-1,individual,Ana,,AR,gold,,,,\n")
    changed = f"{HEADER}\nc-1,individual,Ana María,,AR,silver,,,,\nc-1,business,Ana María,,AR,,,,,\n"
    output, errors = run_import(tmp_path, merchant.merchant, changed, expect_failures=True)
    assert output.startswith("read 2, created 0, updated 1, unchanged 0, failed 1")
    assert errors.splitlines()[1].startswith("3,type,parameter_read_only,")
    ana = Customer.objects.get(external_id="c-1")
    assert (ana.name, ana.type, ana.metadata) == ("Ana María", "individual", {"segment": "silver"})


def test_a_number_on_two_customers_flags_both_for_review(tmp_path, merchant, api, create_customer):
    existing = create_customer(externalId="api-1")
    number = make_cbu(account="0000000000777")
    api.post(
        f"/customers/{existing['customerId']}/bank-accounts",
        {
            "country": "AR",
            "currency": "ARS",
            "rail": "OTHER",
            "accountType": "savings",
            "holderName": "A",
            "accountNumber": number,
        },
    )
    run_import(tmp_path, merchant.merchant, f"{HEADER}\nc-9,individual,B,,AR,,{number},savings,B,\n")
    flagged = BankAccount.objects.filter(account_number_last4=number[-4:])
    assert flagged.count() == 2
    assert set(flagged.values_list("needs_review", "review_reason")) == {(True, SHARED_NUMBER_REASON)}


def test_jsonl_uses_the_apis_request_shapes(tmp_path, merchant):
    lines = [
        {
            "externalId": "j-1",
            "type": "individual",
            "name": "Jo",
            "country": "AR",
            "bankAccounts": [
                {
                    "country": "AR",
                    "currency": "ARS",
                    "rail": "OTHER",
                    "accountType": "savings",
                    "holderName": "Jo",
                    "accountNumber": DOC_ACCOUNT_NUMBER,
                },
                {"country": "AR", "currency": "USD", "rail": "OTHER", "accountType": "savings", "holderName": "Jo"},
            ],
        },
        {"externalId": "j-2", "type": "business", "name": "Co", "country": "AR"},
    ]
    content = "\n".join(orjson.dumps(line).decode() for line in lines) + "\nnot json\n"
    output, errors = run_import(tmp_path, merchant.merchant, content, name="c.jsonl", expect_failures=True)
    assert output.startswith("read 3, created 1, updated 0, unchanged 0, failed 2")
    assert errors.splitlines()[1:] == [
        "1,bankAccounts[1].currency,unsupported_currency,'USD' is not supported: only 'ARS' is.",
        "3,,invalid_json,This line is not a JSON object.",
    ]
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["j-2"]


def test_dry_run_checks_everything_and_writes_nothing(tmp_path, merchant):
    output, errors = run_import(tmp_path, merchant.merchant, MIXED, "--dry-run", expect_failures=True)
    assert output.startswith("dry run (nothing written): read 6, created 3, updated 0, unchanged 0, failed 3")
    assert errors == MIXED_ERRORS
    assert not Customer.objects.exists() and not BankAccount.objects.exists()


def test_unknown_merchant_columns_and_formats_are_refused(tmp_path, merchant):
    with pytest.raises(CommandError, match="No such merchant"):
        call_command("import_customers", "x.csv", "--merchant", "mer_nope", stdout=io.StringIO())
    (tmp_path / "bad.csv").write_text("externalId,nickname\n1,x\n")
    with pytest.raises(CommandError, match="unknown columns: nickname"):
        call_command("import_customers", str(tmp_path / "bad.csv"), "--merchant", merchant.merchant.public_id)
    with pytest.raises(CommandError, match="Cannot tell the format"):
        call_command("import_customers", str(tmp_path / "bad.txt"), "--merchant", merchant.merchant.public_id)


def command_env() -> dict:
    """The test settings (inherited through the environment), on this test's database."""
    return {**os.environ, "DATABASE_URL": running_test_database_url()}


@pytest.mark.django_db(transaction=True)
def test_standard_input(tmp_path):
    merchant = make_merchant("Stdin").merchant
    result = subprocess.run(
        [sys.executable, "manage.py", "import_customers", "-", "--format", "csv", "--merchant", merchant.public_id],
        input=f"{HEADER}\ns-1,individual,Sol,,AR,,,,,\n".encode(),
        capture_output=True,
        cwd=ROOT,
        env=command_env(),
        check=True,
    )
    assert result.stdout.decode().startswith("read 1, created 1, updated 0, unchanged 0, failed 0")
    assert Customer.objects.get(external_id="s-1").name == "Sol"


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_midway_then_rerun_imports_every_row_once(tmp_path):
    """SIGKILL once some batches have committed (whatever the one in flight had done is rolled back by
    PostgreSQL), then run the same file again: every row is there once."""
    merchant = make_merchant("Kill").merchant
    rows = 20_000
    source = tmp_path / "big.csv"
    with source.open("w") as out:
        out.write(HEADER + "\n")
        for i in range(rows):
            out.write(f"k-{i},individual,Person {i},,AR,,{make_cbu(account=f'{i:013d}')},savings,Person {i},\n")
    command = [sys.executable, "manage.py", "import_customers", str(source), "--merchant", merchant.public_id]
    process = subprocess.Popen(
        [*command, "--batch-size", "200"],
        cwd=ROOT,
        env=command_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while Customer.objects.filter(merchant=merchant).count() < 400:  # two batches committed
        assert process.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline, "no batch committed within a minute"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert Customer.objects.filter(merchant=merchant).count() < rows  # killed midway
    subprocess.run([*command], cwd=ROOT, env=command_env(), check=True, capture_output=True)
    assert Customer.objects.filter(merchant=merchant).count() == rows
    assert BankAccount.objects.filter(merchant=merchant).count() == rows
    assert Customer.objects.filter(merchant=merchant, default_bank_account__isnull=True).count() == 0


def test_imported_accounts_get_the_same_review_flags(tmp_path, merchant):
    number = make_cbu(account="0000000000909")
    rows = f"{HEADER}\nb-1,business,Acme SA,,AR,,{number},checking,Acme SA,20221370075\n"
    run_import(tmp_path, merchant.merchant, rows)
    account = BankAccount.objects.get()
    assert (account.needs_review, account.review_reason) == (
        True,
        "CUIT prefix 20 does not fit a customer of type business.",
    )


CUSTOMER_INPUTS = [
    {"externalId": "e-1", "type": "individual", "name": "Ana", "country": "AR", "email": "ana@example.com"},
    {"externalId": "", "type": "person", "name": "  ", "country": "ZZ", "email": "nope", "metadata": []},
    {"externalId": 7, "type": 1, "name": "x" * 201, "country": "A\x00", "email": None, "customerId": "c", "nick": 1},
    {"type": "business", "name": "Ana\ud800", "country": "AR ", "email": "a\x00@example.com", "metadata": {"k": 1}},
    {"externalId": None, "name": True, "country": ["AR"], "email": "x" * 250 + "@example.com"},
    "not an object",
]
ACCOUNT_INPUTS = [
    {"country": "AR", "currency": "ARS", "rail": "OTHER", "accountType": "savings", "holderName": "Jo"},
    {"country": "BR", "currency": "", "rail": 1, "accountType": "", "holderName": "x" * 101, "accountNumber": "1"},
    {"accountNumber": "0070327530004025541645", "metadata": {"cuit": "20221370076"}, "status": "active"},
    {"accountNumber": "00703275300040255416x4", "holderName": None, "accountType": "checking", "metadata": None},
    {"accountNumber": "0070327530004025541699", "accountType": ["savings"], "country": "AR\x00"},
    [],
]


@pytest.mark.parametrize(
    ("serializer_class", "data"),
    [(CustomerCreateInput, data) for data in CUSTOMER_INPUTS] + [(BankAccountCreateInput, d) for d in ACCOUNT_INPUTS],
)
def test_the_importer_checks_fields_exactly_as_the_api_does(serializer_class, data):
    """The importer runs the serializers' fields without the serializer: same values, same errors, same order."""
    serializer = serializer_class(data=data)
    api_errors = [] if serializer.is_valid() else field_errors(serializer.errors)
    values, errors = InputChecker(serializer_class()).check(data)
    assert errors == [(error["param"], error["code"], error["message"]) for error in api_errors]
    if not api_errors:
        assert values == serializer.validated_data


def test_a_file_that_stops_being_utf8_is_refused_after_the_batches_before_it(tmp_path, merchant):
    """Rows are read in a thread, a batch ahead; its errors still end the command, here."""
    good = "".join(f"u-{i},individual,U {i},,AR,,,,,\n" for i in range(1000))  # past the decoder's first chunk
    (tmp_path / "bad.csv").write_bytes(f"{HEADER}\n{good}".encode() + b"u-x,individual,\xff\xfe,,AR,,,,,\n")
    command = ["import_customers", str(tmp_path / "bad.csv"), "--merchant", merchant.merchant.public_id]
    with pytest.raises(CommandError, match="Cannot read"):
        call_command(*command, "--batch-size", "100", stdout=io.StringIO(), stderr=io.StringIO())
    imported = Customer.objects.count()
    assert 0 < imported < 1000 and imported % 100 == 0  # whole batches, those before the bad bytes


def test_imported_rows_are_in_the_audit_trail_with_the_import_as_actor(tmp_path, merchant):
    from django.apps import apps

    run_import(tmp_path, merchant.merchant, MIXED, name="march.csv", expect_failures=True)
    rerun = f"{HEADER}\nc-2,business,Acme SA Argentina,,AR,,,,,\n"
    run_import(tmp_path, merchant.merchant, rerun, name="fix.csv")

    for model, count in (("CustomerHistory", 2), ("BankAccountHistory", 2)):
        events = apps.get_model("customers", model).objects.order_by("pgh_id")
        created = [e for e in events if e.pgh_label == "create"]
        assert len(created) == count
        assert {(e.pgh_context["actor"], e.pgh_context["file"]) for e in created} == {
            ("command:import_customers", "march.csv")
        }
    (renamed,) = apps.get_model("customers", "CustomerHistory").objects.filter(name="Acme SA Argentina")
    assert (renamed.pgh_label, renamed.pgh_context["file"]) == ("update", "fix.csv")
    assert renamed.pgh_context["merchant"] == merchant.merchant.public_id


def test_an_import_refreshes_the_planners_statistics(tmp_path, merchant):
    def analyzed() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'customers_customer'")
            return cursor.fetchone()[0]

    before = analyzed()
    run_import(tmp_path, merchant.merchant, f"{HEADER}\nc-9,individual,Ana,,AR,,,,,\n")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
    assert analyzed() == before + 1


def record_analyzes(monkeypatch) -> list[int]:
    """The rows created at each ANALYZE the importer runs."""
    from customers import importer

    created_at_each_analyze = []
    run = {}
    original_init = importer.Importer.__init__

    def remember(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        run["it"] = self

    monkeypatch.setattr(importer.Importer, "__init__", remember)
    monkeypatch.setattr(
        importer,
        "customers_tables_analyze",
        lambda: created_at_each_analyze.append(run["it"].counts["created"]),
    )
    return created_at_each_analyze


def test_statistics_are_refreshed_each_time_the_rows_created_double(tmp_path, merchant, monkeypatch):
    analyzed = record_analyzes(monkeypatch)
    rows = "".join(f"x-{i},individual,P {i},,AR,,,,,\n" for i in range(4500))
    run_import(tmp_path, merchant.merchant, f"{HEADER}\n{rows}", "--batch-size", "500")
    assert analyzed == [1000, 2000, 4000, 4500]  # doubling, then once at the end


def add_customers_in_sql(merchant, count: int) -> None:
    """count customers for merchant, fast, and the planner told."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO customers_customer (public_id, merchant_id, livemode, type, name, email, country,
                   metadata, external_id, created_at, verification_status, verification_reason)
               SELECT 'cust_' || n, %s, false, 'individual', 'P', '', 'AR', '{}', 'x-' || n, now(), 'unverified', ''
                 FROM generate_series(1, %s) AS n""",
            [merchant.pk, count],
        )
        cursor.execute("ANALYZE customers_customer")


def test_a_merchant_the_planner_knows_as_large_is_analyzed_when_it_doubles(tmp_path, merchant, monkeypatch):
    """Each ANALYZE reads 30,000 random pages: none until the merchant's customers have doubled."""
    add_customers_in_sql(merchant.merchant, 3000)
    analyzed = record_analyzes(monkeypatch)
    rows = "".join(f"y-{i},individual,P {i},,AR,,,,,\n" for i in range(4500))
    run_import(tmp_path, merchant.merchant, f"{HEADER}\n{rows}", "--batch-size", "500")
    assert analyzed == [3000, 4500]  # 6,000 customers, then the end


def many_rows(prefix: str, count: int, *, accounts: bool = True) -> str:
    lines = []
    for i in range(count):
        account = f"{make_cbu(account=f'{i:013d}')},savings,Person {i}," if accounts else ",,,"
        lines.append(f"{prefix}-{i},individual,Person {i},,AR,,{account}\n")
    return HEADER + "\n" + "".join(lines)


def test_a_batch_of_20000_rows_imports(tmp_path, merchant):
    """A batch holds one lock for its merchant's numbers: one per number ran PostgreSQL's lock table out of
    shared memory at 20,000."""
    output, _ = run_import(tmp_path, merchant.merchant, many_rows("b", 20_000), "--batch-size", "20000")
    assert output.startswith("read 20000, created 20000, updated 0, unchanged 0, failed 0")
    assert BankAccount.objects.filter(merchant=merchant.merchant).count() == 20_000


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--batch-size", "50001", "--batch-size must be 1 to 50000"),
        ("--writers", "0", "--writers must be 1 to 8"),
        ("--writers", "9", "--writers must be 1 to 8"),
        ("--processes", "0", "--processes must be 1 to 16"),
    ],
)
def test_options_out_of_range_are_a_clear_error_before_any_row(tmp_path, merchant, option, value, message):
    (tmp_path / "c.csv").write_text(many_rows("o", 3))
    command = ["import_customers", str(tmp_path / "c.csv"), "--merchant", merchant.merchant.public_id]
    with pytest.raises(CommandError, match=message):
        call_command(*command, option, value, stdout=io.StringIO(), stderr=io.StringIO())
    assert not Customer.objects.exists()


def test_the_batch_lookup_uses_the_partial_unique_index(tmp_path, merchant):
    """PostgreSQL proves a partial index's condition from an IN list of at most 100 values: the lookup
    names the condition itself, or past 100 ids it scans the merchant's customers."""
    from django.test.utils import CaptureQueriesContext

    add_customers_in_sql(merchant.merchant, 20_000)  # a merchant with many customers, as the planner sees it
    with CaptureQueriesContext(connection) as queries:
        run_import(tmp_path, merchant.merchant, many_rows("e", 150, accounts=False))
    (lookup,) = [q["sql"] for q in queries.captured_queries if '"external_id" IN' in q["sql"]]
    assert lookup.count("'e-") == 150

    def plan(sql: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            return "\n".join(line for (line,) in cursor.fetchall())

    assert "customer_external_id_unique" in plan(lookup)
    without_condition = lookup.replace(""" AND NOT ("customers_customer"."external_id" = '')""", "")
    assert without_condition != lookup
    assert "customer_external_id_unique" not in plan(without_condition)  # what the condition is for


def state_of(merchant) -> dict:
    """What an import left for a merchant, without its generated ids."""
    customers = {c.pk: c for c in Customer.objects.filter(merchant=merchant)}
    accounts = BankAccount.objects.filter(merchant=merchant)
    by_public_id = {a.public_id: a for a in accounts}
    return {
        "customers": sorted(
            (
                c.external_id,
                c.type,
                c.name,
                c.email,
                orjson.dumps(c.metadata).decode(),
                by_public_id[c.default_bank_account_id].account_number_last4 if c.default_bank_account_id else None,
            )
            for c in customers.values()
        ),
        "accounts": sorted(
            (
                customers[a.customer_id].external_id,
                a.account_number_last4,
                a.account_type,
                a.holder_name,
                a.needs_review,
                a.review_reason,
            )
            for a in accounts
        ),
    }


@pytest.mark.django_db(transaction=True)
def test_two_writers_import_what_one_does(tmp_path):
    """Rows of one customer (several rows, a change, a refused change) and numbers shared by several
    customers, in batches spread over two connections: the same customers, accounts, flags and counts."""
    from django.apps import apps

    shared = make_cbu(account="0000000000555")
    rows = [many_rows("w", 300).removeprefix(HEADER + "\n")]
    for i in range(0, 300, 7):
        rows.append(f"w-{i},individual,Renamed {i},,AR,,{shared},checking,Person {i},\n")
    for i in range(0, 300, 11):
        rows.append(f"w-{i},business,Person {i},,AR,,,,,\n")  # type cannot change
    content = HEADER + "\n" + "".join(rows)
    results = []
    for writers in ("1", "2"):
        merchant = make_merchant(f"Writers {writers}").merchant
        folder = tmp_path / writers
        folder.mkdir()
        output, errors = run_import(
            folder, merchant, content, "--writers", writers, "--batch-size", "40", expect_failures=True
        )
        results.append((output.split(", ")[:5], sorted(errors.splitlines()), state_of(merchant)))
        history = apps.get_model("customers", "CustomerHistory").objects.filter(merchant=merchant)
        assert {(e.pgh_context["actor"], e.pgh_context["merchant"]) for e in history} == {
            ("command:import_customers", merchant.public_id)
        }
        # A context per writer: two connections writing under one would wait for each other.
        assert len({e.pgh_context_id for e in history}) == int(writers)
    assert results[0] == results[1]
    assert results[0][0] == ["read 371", "created 300", "updated 43", "unchanged 0", "failed 28"]
    assert sum(1 for account in results[0][2]["accounts"] if account[4]) == 43  # the shared number's


@pytest.mark.django_db(transaction=True)
def test_the_worker_processes_exit_with_the_importer_and_hold_no_database_connection(tmp_path):
    """kill -9 of the importer: its worker processes (which never connect to the database) die with it."""
    import psutil

    merchant = make_merchant("Orphans").merchant
    source = tmp_path / "big.csv"
    source.write_text(many_rows("p", 20_000))
    command = [sys.executable, "manage.py", "import_customers", str(source), "--merchant", merchant.public_id]
    process = subprocess.Popen(
        [*command, "--batch-size", "200", "--processes", "2"],
        cwd=ROOT,
        env=command_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while Customer.objects.filter(merchant=merchant).count() < 400:  # two batches: the workers are working
            assert process.poll() is None, "the import finished before it could be killed"
            assert time.monotonic() < deadline, "no batch committed within a minute"
            time.sleep(0.05)
        children = psutil.Process(process.pid).children(recursive=True)
        workers = [child for child in children if "spawn_main" in " ".join(child.cmdline())]
        assert len(workers) == 2
        for child in children:
            assert not child.net_connections(kind="all"), "a worker process holds a connection"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"orphans: {[p.pid for p in alive]}"


# Index review: each index on the customer tables and the query it serves. One no query uses costs every
# insert (the import's above all): drop it, or name its query here.
INDEX_QUERIES = {
    "customers_customer_pkey": "customer by primary key; the accounts' foreign key",
    "customer_public_id_unique": "GET /customers/{id}; the payouts' foreign key",
    "customer_external_id_unique": "the import's lookup by externalId; POST /customers' uniqueness",
    "customer_scope_page": "GET /customers, newest first (keyset)",
    "customer_scope_email": "GET /customers?email=",
    "customers_bankaccount_pkey": "account by primary key",
    "bank_account_public_id_unique": "GET /bank-accounts/{id}; the default account's foreign key",
    "bank_account_customer_page": "a customer's accounts, newest first; the import's accounts of its customers",
    "bank_account_fingerprint": "customers_flag_shared_numbers: a number's accounts in the merchant",
    "bank_account_number_unique_per_customer": "one active account per number per customer (the API's 409)",
    # The back-office's searches, filters and sorts (README "The compliance back-office";
    # compliance/tests/test_search_indexes.py proves each one's plan).
    "customer_name_trgm": "back-office customer search by a fragment of the name",
    "customer_name_sort": "back-office customers sorted by name, keyset pages",
    "customer_created_brin": "back-office date filters on customers",
    "bank_account_last4": "back-office search by the last four digits",
    "bank_account_cuit": "back-office search by CUIT",
    "bank_account_cuil": "back-office search by CUIL",
    "bank_account_needs_review": "back-office 'needs review' filter on accounts and customers",
    "bank_account_review_queue": "the review queue's flagged accounts, by flagged_at (keyset pages)",
    "bank_account_created_brin": "back-office date filters on bank accounts",
}


def test_every_index_on_the_customer_tables_serves_a_named_query(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('customers_customer', 'customers_bankaccount')"
        )
        assert {name for (name,) in cursor.fetchall()} == set(INDEX_QUERIES)
