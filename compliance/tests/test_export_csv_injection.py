"""CSV exports are safe to open in a spreadsheet: no cell is read as a formula (OWASP "CSV injection")."""

import csv
import io

import pytest

from compliance.export import safe_cell
from compliance.roles import ANALYST
from compliance.tests.test_verification import staff_client
from customers.tests.factories import DOC_BANK_ACCOUNT

# The API trims names, so a name starting with a tab or carriage return can only come from elsewhere
# (the services, the importer, the admin): those two are made with the service the API itself calls.
API_NAMES = ['=HYPERLINK("http://x","y")', "+54 11 1234", "-5", "@SUM(A1:A9)"]
SERVICE_NAMES = ["\tTabbed", "\r=1+1"]


def export(client, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.django_db(transaction=True)  # the export streams outside the request's transaction
def test_every_formula_trigger_is_neutralised_in_the_exports():
    from core.scope import Scope
    from customers.services import customer_create
    from testsupport.api import ApiClient, make_merchant

    keys = make_merchant("Export")
    api = ApiClient(keys.test)
    ids = {}
    for name in [*API_NAMES, "Gerardo Ratto"]:
        response = api.post("/customers", {"type": "individual", "name": name, "country": "AR"})
        assert response.status_code == 201, response.content
        assert response.json()["name"] == name
        ids[response.json()["customerId"]] = name
    for name in SERVICE_NAMES:
        customer = customer_create(scope=Scope(keys.merchant.pk, False), type="individual", name=name, country="AR")
        ids[customer.public_id] = name
    holder = api.post(
        f"/customers/{next(iter(ids))}/bank-accounts", {**DOC_BANK_ACCOUNT, "holderName": "=cmd|' /C calc'!A0"}
    )
    assert holder.status_code == 201, holder.content
    analyst = staff_client("ana", ANALYST)

    rows = export(analyst, "/admin/customers/customer/export/")
    names = {row["customerId"]: row["name"] for row in rows}
    assert names.keys() == ids.keys()
    for customer_id, name in ids.items():
        expected = name if name == "Gerardo Ratto" else "'" + name
        assert names[customer_id] == expected, (name, names[customer_id])
    (account,) = export(analyst, "/admin/customers/bankaccount/export/")
    assert account["holderName"] == "'=cmd|' /C calc'!A0"
    # Only what a spreadsheet would run changes: ids, dates and amounts read as before.
    assert account["customerId"] in ids and account["createdAt"][0].isdigit()


def test_only_strings_starting_with_a_trigger_change():
    assert [safe_cell(value) for value in ("-5", "+1", "@a", "=1", "\t1", "\r1")] == [
        "'-5",
        "'+1",
        "'@a",
        "'=1",
        "'\t1",
        "'\r1",
    ]
    from decimal import Decimal

    for value in (None, -5, Decimal("-5.00"), True, "", "a=1", "Gerardo Ratto", " =1"):
        assert safe_cell(value) == value
