"""/customers/{id}/bank-accounts through HTTP with real keys: the doc's contract, validation, isolation."""

import dataclasses
import logging
import re

import pytest
from django.db import connection

from customers.models import BankAccount
from customers.tests.factories import DOC_ACCOUNT_NUMBER, DOC_BANK_ACCOUNT, make_cbu, make_cvu

BA_ID = re.compile(r"^ba_[A-Za-z0-9]{24}$")


@pytest.fixture
def customer(create_customer) -> dict:
    return create_customer()


@pytest.fixture
def accounts_path(customer) -> str:
    return f"/customers/{customer['customerId']}/bank-accounts"


@pytest.fixture
def add_account(api, accounts_path):
    def add(path: str | None = None, client=None, **fields) -> dict:
        response = (client or api).post(path or accounts_path, {**DOC_BANK_ACCOUNT, **fields})
        assert response.status_code == 201, response.content
        return response.json()

    return add


def field_errors(response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.content
    return [(error["param"], error["code"]) for error in response.json()["error"]["errors"]]


def test_docs_example_is_answered_as_the_doc_shows(api, customer, accounts_path):
    response = api.post(accounts_path, DOC_BANK_ACCOUNT)
    assert response.status_code == 201
    body = response.json()
    assert BA_ID.match(body.pop("bankAccountId"))
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", body.pop("createdAt"))
    assert body == {
        "customerId": customer["customerId"],
        "country": "AR",
        "currency": "ARS",
        "rail": "OTHER",
        "accountNumberLast4": "1644",
        "accountType": "checking",
        "holderName": "Gerardo Ratto",
        "accountKind": "cbu",
        "bankName": "Banco de Galicia y Buenos Aires S.A.",
        "status": "active",
        "metadata": {"cuit": "20221370075"},
        "livemode": False,
    }


def test_first_account_becomes_the_default(api, customer, add_account):
    first = add_account()
    add_account(accountNumber=make_cbu())
    assert api.get(f"/customers/{customer['customerId']}").json()["defaultBankAccountId"] == first["bankAccountId"]
    listed = api.get("/customers").json()["data"][0]
    assert listed["defaultBankAccountId"] == first["bankAccountId"]


def test_account_without_number_is_stored_but_never_default(api, customer, add_account, accounts_path):
    body = add_account(accountNumber=None)
    assert (body["accountNumberLast4"], body["accountKind"], body["bankName"]) == (None, None, None)
    body = {k: v for k, v in DOC_BANK_ACCOUNT.items() if k != "accountNumber"}
    assert api.post(accounts_path, body).status_code == 201
    path = f"/customers/{customer['customerId']}"
    assert api.get(path).json()["defaultBankAccountId"] is None
    errors = field_errors(api.patch(path, {"defaultBankAccountId": body_id(api, accounts_path)}))
    assert errors == [("defaultBankAccountId", "invalid_default_bank_account")]


def body_id(api, accounts_path) -> str:
    return api.get(accounts_path).json()["data"][0]["bankAccountId"]


def test_cvu_and_unknown_bank(add_account):
    cvu = add_account(accountNumber=make_cvu())
    assert (cvu["accountKind"], cvu["bankName"]) == ("cvu", None)
    unknown = add_account(accountNumber=make_cbu(entity="998"))
    assert (unknown["accountKind"], unknown["bankName"]) == ("cbu", None)


def test_number_with_spaces_and_dashes(add_account):
    body = add_account(accountNumber="0070-3275 3000 4025 5416 44")
    assert body["accountNumberLast4"] == "1644"


def test_cuit_and_cuil_are_normalised(add_account):
    body = add_account(metadata={"cuit": "20-22137007-5", "cuil": "20 22137007 5", "ref": "x"})
    assert body["metadata"] == {"cuit": "20221370075", "cuil": "20221370075", "ref": "x"}


@pytest.mark.parametrize(
    ("patch", "errors"),
    [
        ({"country": "UY"}, [("country", "unsupported_country")]),
        ({"currency": "USD"}, [("currency", "unsupported_currency")]),
        ({"rail": "SPEI"}, [("rail", "unsupported_rail")]),
        ({"country": 1}, [("country", "parameter_invalid_type")]),
        ({"accountType": "brokerage"}, [("accountType", "parameter_invalid_choice")]),
        ({"holderName": " "}, [("holderName", "parameter_blank")]),
        ({"holderName": "x" * 101}, [("holderName", "parameter_too_long")]),
        ({"accountNumber": "123"}, [("accountNumber", "account_number_invalid_length")]),
        ({"accountNumber": "00703275300040255416AB"}, [("accountNumber", "account_number_invalid_characters")]),
        ({"accountNumber": "0170327530004025541644"}, [("accountNumber", "account_number_invalid_bank_block")]),
        ({"accountNumber": "0070327530004025541645"}, [("accountNumber", "account_number_invalid_account_block")]),
        (
            {"accountNumber": "0070327350004025541644"},
            [
                ("accountNumber", "account_number_invalid_bank_block"),
                ("accountNumber", "account_number_invalid_account_block"),
            ],
        ),
        ({"accountNumber": 7032753000}, [("accountNumber", "parameter_invalid_type")]),
        ({"accountNumber": "0" * 41}, [("accountNumber", "parameter_too_long")]),
        ({"metadata": {"cuit": "20221370076"}}, [("metadata.cuit", "invalid_cuit")]),
        ({"metadata": {"cuil": "123"}}, [("metadata.cuil", "invalid_cuil")]),
        ({"metadata": {"cuit": 20221370075}}, [("metadata", "metadata_value_invalid")]),
        ({"bankAccountId": "ba_x"}, [("bankAccountId", "parameter_read_only")]),
        ({"status": "disabled"}, [("status", "parameter_read_only")]),
        ({"accountNumberLast4": "1644"}, [("accountNumberLast4", "parameter_read_only")]),
        ({"iban": "x"}, [("iban", "parameter_unknown")]),
    ],
)
def test_field_rules(api, accounts_path, patch, errors):
    response = api.post(accounts_path, {**DOC_BANK_ACCOUNT, **patch})
    assert field_errors(response) == errors
    assert BankAccount.objects.count() == 0
    if any(code.startswith("unsupported_") for _, code in errors):
        assert "only" in response.json()["error"]["message"]


@pytest.mark.parametrize("missing", ["country", "currency", "rail", "accountType", "holderName"])
def test_required_fields(api, accounts_path, missing):
    body = {k: v for k, v in DOC_BANK_ACCOUNT.items() if k != missing}
    assert field_errors(api.post(accounts_path, body)) == [(missing, "parameter_missing")]


def test_same_number_twice_on_one_customer_is_409_with_the_existing_id(api, accounts_path, add_account):
    first = add_account()
    response = api.post(accounts_path, {**DOC_BANK_ACCOUNT, "accountNumber": "0070 3275 3000 4025 5416 44"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["param"], error["bankAccountId"]) == (
        "bank_account_exists",
        "accountNumber",
        first["bankAccountId"],
    )
    assert BankAccount.objects.count() == 1


def test_a_disabled_number_can_be_added_again(api, accounts_path, add_account):
    first = add_account()
    api.delete(f"{accounts_path}/{first['bankAccountId']}")
    second = add_account()
    assert second["bankAccountId"] != first["bankAccountId"]


def test_same_number_on_another_customer_is_allowed_and_flagged(api, create_customer, add_account):
    first = add_account()
    other = create_customer(name="Someone Else")
    second = add_account(path=f"/customers/{other['customerId']}/bank-accounts")
    flags = dict(BankAccount.objects.values_list("public_id", "needs_review"))
    assert flags == {first["bankAccountId"]: True, second["bankAccountId"]: True}
    assert "needs_review" not in second and "needsReview" not in second


def test_same_number_in_the_other_mode_or_merchant_is_not_flagged(live_api, other_api, create_customer, add_account):
    add_account()
    live_customer = create_customer(client=live_api)
    add_account(path=f"/customers/{live_customer['customerId']}/bank-accounts", client=live_api)
    foreign = create_customer(client=other_api)
    add_account(path=f"/customers/{foreign['customerId']}/bank-accounts", client=other_api)
    assert not BankAccount.objects.filter(needs_review=True).exists()


def test_retrieve_and_list(api, accounts_path, add_account):
    first = add_account()
    second = add_account(accountNumber=make_cbu())
    assert api.get(f"{accounts_path}/{first['bankAccountId']}").json() == first
    body = api.get(accounts_path).json()
    assert body == {"data": [second, first], "hasMore": False}
    page = api.get(accounts_path, {"limit": 1}).json()
    assert page["data"] == [second] and page["hasMore"] is True
    page = api.get(accounts_path, {"limit": 1, "startingAfter": second["bankAccountId"]}).json()
    assert page == {"data": [first], "hasMore": False}
    page = api.get(accounts_path, {"endingBefore": first["bankAccountId"]}).json()
    assert page == {"data": [second], "hasMore": False}


def test_delete_disables_keeps_history_and_clears_default(api, customer, accounts_path, add_account):
    account = add_account()
    path = f"{accounts_path}/{account['bankAccountId']}"
    response = api.delete(path)
    assert response.status_code == 200
    assert response.json() == {**account, "status": "disabled"}
    assert api.get(f"/customers/{customer['customerId']}").json()["defaultBankAccountId"] is None
    assert api.get(path).json()["status"] == "disabled"
    assert api.get(accounts_path, {"status": "disabled"}).json()["data"] == [response.json()]
    assert api.get(accounts_path, {"status": "active"}).json()["data"] == []
    assert api.delete(path).json()["status"] == "disabled"  # idempotent
    errors = field_errors(
        api.patch(f"/customers/{customer['customerId']}", {"defaultBankAccountId": account["bankAccountId"]})
    )
    assert errors == [("defaultBankAccountId", "invalid_default_bank_account")]


def test_deleting_a_non_default_keeps_the_default(api, customer, accounts_path, add_account):
    default = add_account()
    other = add_account(accountNumber=make_cbu())
    api.delete(f"{accounts_path}/{other['bankAccountId']}")
    assert api.get(f"/customers/{customer['customerId']}").json()["defaultBankAccountId"] == default["bankAccountId"]


def test_switch_default(api, customer, add_account):
    add_account()
    second = add_account(accountNumber=make_cbu())
    path = f"/customers/{customer['customerId']}"
    response = api.patch(path, {"defaultBankAccountId": second["bankAccountId"]})
    assert response.status_code == 200 and response.json()["defaultBankAccountId"] == second["bankAccountId"]
    assert api.patch(path, {"defaultBankAccountId": None}).json()["defaultBankAccountId"] is None


@pytest.mark.parametrize("value", ["ba_" + "x" * 24, "nope", "", 5])
def test_switch_default_to_something_else_is_400(api, customer, add_account, value):
    add_account()
    errors = field_errors(api.patch(f"/customers/{customer['customerId']}", {"defaultBankAccountId": value}))
    assert errors[0][0] == "defaultBankAccountId"


def test_default_must_belong_to_this_customer(api, create_customer, customer, add_account):
    other = create_customer(name="Other")
    theirs = add_account(path=f"/customers/{other['customerId']}/bank-accounts", accountNumber=make_cbu())
    errors = field_errors(
        api.patch(f"/customers/{customer['customerId']}", {"defaultBankAccountId": theirs["bankAccountId"]})
    )
    assert errors == [("defaultBankAccountId", "invalid_default_bank_account")]


def test_patch_holder_name_and_metadata_only(api, accounts_path, add_account):
    account = add_account()
    path = f"{accounts_path}/{account['bankAccountId']}"
    response = api.patch(path, {"holderName": "G. Ratto", "metadata": {"ref": "A1", "cuit": "20-22137007-5"}})
    assert response.status_code == 200
    assert response.json() == {**account, "holderName": "G. Ratto", "metadata": {"cuit": "20221370075", "ref": "A1"}}
    for field, value in (
        ("accountNumber", make_cbu()),
        ("accountType", "savings"),
        ("currency", "ARS"),
        ("status", "active"),
    ):
        assert field_errors(api.patch(path, {field: value})) == [(field, "parameter_read_only")]
    assert field_errors(api.patch(path, {"metadata": {"cuit": "1"}})) == [("metadata.cuit", "invalid_cuit")]
    assert api.get(path).json()["holderName"] == "G. Ratto"


def test_another_customers_account_is_404_under_this_path(api, create_customer, accounts_path, add_account):
    other = create_customer(name="Other")
    theirs = add_account(path=f"/customers/{other['customerId']}/bank-accounts", accountNumber=make_cbu())
    path = f"{accounts_path}/{theirs['bankAccountId']}"
    for response in (api.get(path), api.patch(path, {"holderName": "x"}), api.delete(path)):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"
    assert BankAccount.objects.get(public_id=theirs["bankAccountId"]).status == "active"
    assert api.get(accounts_path, {"startingAfter": theirs["bankAccountId"]}).status_code == 400


def test_other_merchant_and_other_mode_are_404_on_every_endpoint(api, other_api, live_api, accounts_path, add_account):
    account = add_account()
    one = f"{accounts_path}/{account['bankAccountId']}"
    for client in (other_api, live_api):
        responses = [
            client.get(accounts_path),
            client.post(accounts_path, DOC_BANK_ACCOUNT),
            client.get(one),
            client.patch(one, {"holderName": "x"}),
            client.delete(one),
        ]
        assert [r.status_code for r in responses] == [404] * 5
    assert BankAccount.objects.count() == 1 and BankAccount.objects.get().status == "active"


def test_full_number_never_leaves_the_service(api, customer, accounts_path, add_account, caplog):
    with caplog.at_level(logging.DEBUG):
        account = add_account()
        bodies = [
            api.get(accounts_path).content,
            api.get(f"{accounts_path}/{account['bankAccountId']}").content,
            api.post(accounts_path, DOC_BANK_ACCOUNT).content,  # the 409
            api.post(accounts_path, {**DOC_BANK_ACCOUNT, "accountNumber": DOC_ACCOUNT_NUMBER[:-1] + "5"}).content,
            api.get(f"/customers/{customer['customerId']}").content,
        ]
    for body in bodies:
        assert DOC_ACCOUNT_NUMBER.encode() not in body
    assert DOC_ACCOUNT_NUMBER not in caplog.text
    stored = BankAccount.objects.get()
    assert DOC_ACCOUNT_NUMBER not in str(stored) and DOC_ACCOUNT_NUMBER not in repr(stored)


def test_the_database_row_holds_no_run_of_the_number_beyond_the_last_four(add_account):
    add_account()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM customers_bankaccount")
        row = " ".join(str(value) for value in cursor.fetchone())
    runs = {DOC_ACCOUNT_NUMBER[i : i + 5] for i in range(len(DOC_ACCOUNT_NUMBER) - 4)}
    assert not [run for run in runs if run in row]
    assert "1644" in row  # the last four are kept in clear, for display


def test_stored_number_decrypts_to_the_number(add_account):
    add_account()
    assert BankAccount.objects.get().account_number() == DOC_ACCOUNT_NUMBER


def test_an_add_that_loses_the_race_answers_409_with_the_winner(api, accounts_path, add_account, monkeypatch):
    """The duplicate check reads what is committed; an add racing another misses it, and the unique index
    stops it. Simulated: the first read is blind to the existing account. The request runs again and
    answers as it would have sequentially."""
    from customers.services import bank_accounts as services

    existing = add_account()
    real_read = services._customer_and_same_number
    reads = []

    def blind_first_read(*args):
        found = real_read(*args)
        reads.append(found)
        return found if len(reads) > 1 else dataclasses.replace(found, existing_account_id=None)

    monkeypatch.setattr(services, "_customer_and_same_number", blind_first_read)
    response = api.post(accounts_path, DOC_BANK_ACCOUNT)
    assert response.status_code == 409, response.content
    assert response.json()["error"]["bankAccountId"] == existing["bankAccountId"]
    assert len(reads) == 2
    assert BankAccount.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_of_one_number_make_one_account():
    """Eight threads add the same number to one customer at once: one 201, seven 409s naming it."""
    from testsupport.api import ApiClient, make_merchant, run_at_once

    merchant = make_merchant("Race")
    api = ApiClient(merchant.test)
    customer = api.post("/customers", {"type": "individual", "name": "R", "country": "AR"}).json()
    path = f"/customers/{customer['customerId']}/bank-accounts"

    def add():
        response = ApiClient(merchant.test).post(path, DOC_BANK_ACCOUNT)
        return response.status_code, response.json()

    results = run_at_once(8, add)
    created = [body["bankAccountId"] for status, body in results if status == 201]
    conflicts = [body["error"]["bankAccountId"] for status, body in results if status == 409]
    assert len(created) == 1 and conflicts == created * 7
    assert BankAccount.objects.filter(customer__public_id=customer["customerId"]).count() == 1


def test_an_add_that_read_no_default_does_not_replace_one(api, customer, add_account, monkeypatch):
    """The default is set only where it is still empty: an add that read "no default" (simulated; a first
    account committed in between) leaves the other account as the default."""
    from customers.services import bank_accounts as services

    first = add_account()
    real_read = services._customer_and_same_number

    def read_before_the_first_committed(*args):
        return dataclasses.replace(real_read(*args), default_id=None)

    monkeypatch.setattr(services, "_customer_and_same_number", read_before_the_first_committed)
    add_account(accountNumber=make_cbu(account="0000000000055"))
    assert api.get(f"/customers/{customer['customerId']}").json()["defaultBankAccountId"] == first["bankAccountId"]


@pytest.mark.django_db(transaction=True)
def test_customers_adding_one_number_at_once_are_all_flagged():
    """The review flag is decided in SQL under a lock on the number: whichever add commits second sees
    the first's account, so no account of a shared number escapes review."""
    from testsupport.api import ApiClient, make_merchant, run_at_once

    merchant = make_merchant("Shared")
    api = ApiClient(merchant.test)
    customers = [api.post("/customers", {"type": "individual", "name": f"C{i}", "country": "AR"}) for i in range(6)]
    pending = [f"/customers/{c.json()['customerId']}/bank-accounts" for c in customers]

    def add():
        return ApiClient(merchant.test).post(pending.pop(), DOC_BANK_ACCOUNT).status_code

    assert run_at_once(6, add) == [201] * 6
    assert list(BankAccount.objects.values_list("needs_review", flat=True)) == [True] * 6


@pytest.mark.parametrize(
    ("customer_type", "metadata", "reason"),
    [
        ("individual", {"cuit": "20221370075"}, ""),
        ("business", {"cuit": "30500010912"}, ""),
        ("business", {"cuit": "20221370075"}, "CUIT prefix 20 does not fit a customer of type business."),
        ("individual", {"cuil": "30500010912"}, "CUIL prefix 30 does not fit a customer of type individual."),
        ("business", {}, ""),
    ],
)
def test_a_tax_id_that_does_not_fit_the_customer_type_flags_the_account(
    api, create_customer, customer_type, metadata, reason
):
    customer = create_customer(type=customer_type)
    response = api.post(
        f"/customers/{customer['customerId']}/bank-accounts", {**DOC_BANK_ACCOUNT, "metadata": metadata}
    )
    assert response.status_code == 201, response.content
    account = BankAccount.objects.get(public_id=response.json()["bankAccountId"])
    assert (account.needs_review, account.review_reason) == (bool(reason), reason)


def test_an_account_keeps_every_reason_it_is_flagged_for(api, create_customer):
    from customers.review import SHARED_NUMBER_REASON

    individual, business = create_customer(), create_customer(type="business")
    for customer in (individual, business):  # the doc's CUIT (20…) on both: shared, and wrong for the business
        api.post(f"/customers/{customer['customerId']}/bank-accounts", DOC_BANK_ACCOUNT)
    reasons = dict(BankAccount.objects.values_list("customer__public_id", "review_reason"))
    assert reasons == {
        individual["customerId"]: SHARED_NUMBER_REASON,
        business["customerId"]: f"CUIT prefix 20 does not fit a customer of type business.; {SHARED_NUMBER_REASON}",
    }
