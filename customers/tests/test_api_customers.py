"""POST/GET/PATCH /customers through HTTP with real keys: the doc's contract and every field rule."""

import re

import pytest

from customers.models import Customer
from testsupport.api import DOC_CUSTOMER

CUSTOMER_ID = re.compile(r"^cust_[A-Za-z0-9]{24}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def field_errors(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["type"] == "invalid_request_error"
    assert body["code"] == "parameter_invalid"
    return {error["param"]: error["code"] for error in body["errors"]}


def test_create_answers_the_docs_response(api):
    response = api.post("/customers", DOC_CUSTOMER)
    assert response.status_code == 201
    body = response.json()
    assert CUSTOMER_ID.match(body.pop("customerId"))
    assert ISO_Z.match(body.pop("createdAt"))
    assert body == {
        "type": "individual",
        "name": "Gerardo Ratto",
        "email": "gerardo@example.com",
        "country": "AR",
        "externalId": None,
        "defaultBankAccountId": None,
        "metadata": {"internalUserId": "USR-4421"},
        "last_out": None,
        "livemode": False,
    }


def test_live_key_creates_live_customers(live_api):
    assert live_api.post("/customers", DOC_CUSTOMER).json()["livemode"] is True


def test_minimal_customer(api):
    body = api.post("/customers", {"type": "business", "name": "Envíos SRL", "country": "UY"}).json()
    assert body["email"] is None and body["metadata"] == {} and body["type"] == "business"


def test_retrieve_returns_what_create_returned(api, create_customer):
    created = create_customer()
    response = api.get(f"/customers/{created['customerId']}")
    assert response.status_code == 200
    assert response.json() == created


def test_ids_are_random_not_sequential(create_customer):
    ids = [create_customer()["customerId"] for _ in range(20)]
    assert all(CUSTOMER_ID.match(customer_id) for customer_id in ids)
    assert len(set(ids)) == 20
    # Sequential ids would sort in creation order; random ones do so with probability 1/20!.
    assert sorted(ids) != ids and sorted(ids, reverse=True) != ids


@pytest.mark.parametrize(
    ("patch", "param", "code"),
    [
        ({"type": "person"}, "type", "parameter_invalid_choice"),
        ({"type": None}, "type", "parameter_null"),
        ({"type": 1}, "type", "parameter_invalid_choice"),
        ({"name": ""}, "name", "parameter_blank"),
        ({"name": "   "}, "name", "parameter_blank"),
        ({"name": "x" * 201}, "name", "parameter_too_long"),
        ({"name": ["a"]}, "name", "parameter_invalid_type"),
        ({"name": 0}, "name", "parameter_invalid_type"),
        ({"country": True}, "country", "parameter_invalid_type"),
        ({"email": 5}, "email", "parameter_invalid_type"),
        ({"name": "a\x00b"}, "name", "parameter_invalid_characters"),
        ({"country": "ZZ"}, "country", "invalid_country"),
        ({"country": "ar"}, "country", "invalid_country"),
        ({"country": "ARG"}, "country", "invalid_country"),
        ({"country": "UK"}, "country", "invalid_country"),
        ({"email": "not-an-email"}, "email", "invalid_email"),
        ({"email": "a@b"}, "email", "invalid_email"),
        ({"email": "x" * 250 + "@example.com"}, "email", "parameter_too_long"),
        ({"email": ""}, "email", "parameter_blank"),
        ({"metadata": []}, "metadata", "invalid_metadata"),
        ({"metadata": "x"}, "metadata", "invalid_metadata"),
        ({"metadata": {"k": 1}}, "metadata", "metadata_value_invalid"),
        ({"metadata": {"k": {"nested": "x"}}}, "metadata", "metadata_value_invalid"),
        ({"metadata": {"k": None}}, "metadata", "metadata_value_invalid"),
        ({"metadata": {"k" * 41: "v"}}, "metadata", "metadata_key_invalid"),
        ({"metadata": {"": "v"}}, "metadata", "metadata_key_invalid"),
        ({"metadata": {"k": "v" * 501}}, "metadata", "metadata_value_invalid"),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata", "metadata_too_many_keys"),
        ({"customerId": "cust_mine"}, "customerId", "parameter_read_only"),
        ({"livemode": True}, "livemode", "parameter_read_only"),
        ({"createdAt": "2020-01-01T00:00:00Z"}, "createdAt", "parameter_read_only"),
        ({"last_out": None}, "last_out", "parameter_read_only"),
        ({"nickname": "Gera"}, "nickname", "parameter_unknown"),
    ],
)
def test_create_field_rules(api, patch, param, code):
    response = api.post("/customers", {**DOC_CUSTOMER, **patch})
    assert field_errors(response) == {param: code}
    assert Customer.objects.count() == 0


def test_boundaries_are_accepted(api):
    body = {
        "type": "business",
        "name": "n" * 200,
        "country": "AQ",
        "email": None,
        "metadata": {f"{i:040d}": "v" * 500 for i in range(50)},
    }
    assert api.post("/customers", body).status_code == 201


@pytest.mark.parametrize("missing", ["type", "name", "country"])
def test_required_fields(api, missing):
    body = {k: v for k, v in DOC_CUSTOMER.items() if k != missing}
    assert field_errors(api.post("/customers", body)) == {missing: "parameter_missing"}


def test_every_error_is_reported_at_once(api):
    response = api.post("/customers", {"type": "x", "name": "", "country": "ZZ", "email": "no", "extra": 1})
    assert field_errors(response) == {
        "type": "parameter_invalid_choice",
        "name": "parameter_blank",
        "country": "invalid_country",
        "email": "invalid_email",
        "extra": "parameter_unknown",
    }
    error = response.json()["error"]
    assert error["param"] == "type" and error["message"] == error["errors"][0]["message"]


def test_name_is_trimmed(api):
    assert api.post("/customers", {**DOC_CUSTOMER, "name": "  Gerardo  "}).json()["name"] == "Gerardo"


def test_patch_name_email_metadata(api, create_customer):
    created = create_customer()
    path = f"/customers/{created['customerId']}"
    response = api.patch(path, {"name": "G. Ratto", "email": None, "metadata": {"tier": "gold"}})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "G. Ratto"
    assert body["email"] is None
    assert body["metadata"] == {"internalUserId": "USR-4421", "tier": "gold"}
    assert {k: v for k, v in body.items() if k not in ("name", "email", "metadata")} == {
        k: v for k, v in created.items() if k not in ("name", "email", "metadata")
    }
    assert api.get(path).json() == body


def test_patch_metadata_null_removes_a_key(api, create_customer):
    path = f"/customers/{create_customer()['customerId']}"
    assert api.patch(path, {"metadata": {"internalUserId": None}}).json()["metadata"] == {}


def test_patch_metadata_cannot_grow_past_50_keys(api, create_customer):
    path = f"/customers/{create_customer(metadata={f'k{i}': 'v' for i in range(50)})['customerId']}"
    assert field_errors(api.patch(path, {"metadata": {"one_more": "v"}})) == {"metadata": "metadata_too_many_keys"}
    assert len(api.get(path).json()["metadata"]) == 50


def test_empty_patch_changes_nothing(api, create_customer):
    created = create_customer()
    assert api.patch(f"/customers/{created['customerId']}", {}).json() == created


@pytest.mark.parametrize(
    ("patch", "param", "code"),
    [
        ({"type": "business"}, "type", "parameter_read_only"),
        ({"country": "UY"}, "country", "parameter_read_only"),
        ({"customerId": "cust_x"}, "customerId", "parameter_read_only"),
        ({"createdAt": "2020-01-01T00:00:00Z"}, "createdAt", "parameter_read_only"),
        ({"livemode": True}, "livemode", "parameter_read_only"),
        ({"name": ""}, "name", "parameter_blank"),
        ({"name": None}, "name", "parameter_null"),
        ({"email": "bad"}, "email", "invalid_email"),
        ({"metadata": {"k": 5}}, "metadata", "metadata_value_invalid"),
        ({"foo": "bar"}, "foo", "parameter_unknown"),
    ],
)
def test_patch_field_rules(api, create_customer, patch, param, code):
    created = create_customer()
    path = f"/customers/{created['customerId']}"
    assert field_errors(api.patch(path, patch)) == {param: code}
    assert api.get(path).json() == created


def test_put_and_delete_are_not_allowed(api, create_customer):
    path = f"/customers/{create_customer()['customerId']}"
    for response in (api.client.put(path, headers={"Authorization": f"Bearer {api.key}"}), api.delete(path)):
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "customer_id",
    ["cust_doesnotexist000000000000", "cust_12345", "cust_" + "a" * 24, "nope", "cust_%00", "x" * 3000, "12"],
)
def test_unknown_ids_answer_404(api, customer_id):
    for response in (api.get(f"/customers/{customer_id}"), api.patch(f"/customers/{customer_id}", {"name": "x"})):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"


def test_other_merchants_customer_is_404_everywhere(api, other_api, create_customer):
    mine = create_customer()
    theirs = create_customer(client=other_api)
    for client, foreign in ((api, theirs), (other_api, mine)):
        path = f"/customers/{foreign['customerId']}"
        for response in (client.get(path), client.patch(path, {"name": "hijacked"})):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "resource_missing"
        assert foreign["customerId"] not in client.get("/customers").content.decode()
        assert client.get("/customers", {"startingAfter": foreign["customerId"]}).status_code == 400
    assert api.get(f"/customers/{mine['customerId']}").json()["name"] == "Gerardo Ratto"
    assert other_api.get(f"/customers/{theirs['customerId']}").json()["name"] == "Gerardo Ratto"


def test_test_and_live_modes_are_isolated(api, live_api, create_customer):
    test_customer = create_customer()
    live_customer = create_customer(client=live_api)
    for client, foreign in ((api, live_customer), (live_api, test_customer)):
        path = f"/customers/{foreign['customerId']}"
        assert client.get(path).status_code == 404
        assert client.patch(path, {"name": "x"}).status_code == 404
        listed = [c["customerId"] for c in client.get("/customers").json()["data"]]
        assert foreign["customerId"] not in listed and len(listed) == 1
        assert client.get("/customers", {"endingBefore": foreign["customerId"]}).status_code == 400


# externalId: the merchant's own id, unique per merchant and mode


def test_external_id_is_stored_shown_and_filterable(api, create_customer):
    tagged = create_customer(externalId="crm-0042")
    create_customer(externalId="crm-0043")
    assert tagged["externalId"] == "crm-0042"
    assert api.get(f"/customers/{tagged['customerId']}").json()["externalId"] == "crm-0042"
    found = api.get("/customers", {"externalId": "crm-0042"}).json()
    assert [c["customerId"] for c in found["data"]] == [tagged["customerId"]] and found["hasMore"] is False
    assert api.get("/customers", {"externalId": "nobody"}).json()["data"] == []


def test_a_taken_external_id_is_409_naming_its_customer(api, create_customer):
    first = create_customer(externalId="crm-1")
    response = api.post("/customers", {**DOC_CUSTOMER, "externalId": "crm-1"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["param"], error["customerId"]) == (
        "customer_external_id_exists",
        "externalId",
        first["customerId"],
    )
    assert Customer.objects.count() == 1


def test_external_ids_are_per_merchant_and_mode(api, live_api, other_api, create_customer):
    create_customer(externalId="shared")
    assert create_customer(client=live_api, externalId="shared")["livemode"] is True
    assert create_customer(client=other_api, externalId="shared")["externalId"] == "shared"
    assert other_api.get("/customers", {"externalId": "shared"}).json()["data"][0]["livemode"] is False
    assert len(api.get("/customers", {"externalId": "shared"}).json()["data"]) == 1


def test_patch_sets_changes_and_removes_the_external_id(api, create_customer):
    customer = create_customer()
    path = f"/customers/{customer['customerId']}"
    assert api.patch(path, {"externalId": "crm-7"}).json()["externalId"] == "crm-7"
    assert api.patch(path, {"externalId": "crm-7"}).status_code == 200  # its own id is not "taken"
    other = create_customer(externalId="crm-8")
    taken = api.patch(path, {"externalId": "crm-8"})
    assert taken.status_code == 409 and taken.json()["error"]["customerId"] == other["customerId"]
    assert api.patch(path, {"externalId": None}).json()["externalId"] is None
    assert api.patch(f"/customers/{other['customerId']}", {"externalId": None}).status_code == 200
    assert api.patch(path, {"externalId": "crm-8"}).json()["externalId"] == "crm-8"  # free again


@pytest.mark.parametrize(
    ("value", "code"),
    [("", "parameter_blank"), ("x" * 129, "parameter_too_long"), (42, "parameter_invalid_type")],
)
def test_external_id_rules(api, value, code):
    assert field_errors(api.post("/customers", {**DOC_CUSTOMER, "externalId": value})) == {"externalId": code}


@pytest.mark.django_db(transaction=True)
def test_parallel_creates_with_one_external_id_make_one_customer():
    """The unique index decides; the losers run again and answer 409 naming the winner."""
    from testsupport.api import ApiClient, make_merchant, run_at_once

    merchant = make_merchant("Race")

    def create():
        response = ApiClient(merchant.test).post("/customers", {**DOC_CUSTOMER, "externalId": "same"})
        return response.status_code, response.json()

    results = run_at_once(6, create)
    created = [body["customerId"] for status, body in results if status == 201]
    conflicts = [body["error"]["customerId"] for status, body in results if status == 409]
    assert len(created) == 1 and conflicts == created * 5
    assert Customer.objects.filter(external_id="same").count() == 1


def test_a_nul_in_a_filter_is_refused_as_invalid_characters(api):
    response = api.get("/customers", {"externalId": "a\x00b"})
    assert response.status_code == 400
    assert response.json()["error"]["errors"] == [
        {"param": "externalId", "code": "parameter_invalid_characters", "message": "Null characters are not allowed."}
    ]
