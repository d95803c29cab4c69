"""The OpenAPI schema: valid, warning-free, and honest about every status each operation can return."""

import pytest
from django.core.management import call_command

# Any request can also be answered 414/431 (the server's limits) and 503 (a database outage); one with a
# body 411 (a chunked body that could not be read).
ANY = {"403", "414", "417", "431", "501", "503"}
BODY = {*ANY, "411"}
OPERATIONS = {
    ("/customers", "get"): {"200", "400", "401", *ANY},
    ("/customers", "post"): {"201", "400", "401", "409", "413", "415", "422", *BODY},
    ("/customers/{customerId}", "get"): {"200", "400", "401", "404", *ANY},
    ("/customers/{customerId}", "patch"): {"200", "400", "401", "404", "409", "413", "415", *BODY},
    ("/customers/{customerId}/bank-accounts", "get"): {"200", "400", "401", "404", *ANY},
    ("/customers/{customerId}/bank-accounts", "post"): {"201", "400", "401", "404", "409", "413", "415", "422", *BODY},
    ("/customers/{customerId}/bank-accounts/{bankAccountId}", "get"): {"200", "400", "401", "404", *ANY},
    ("/customers/{customerId}/bank-accounts/{bankAccountId}", "patch"): {
        *("200", "400", "401", "404", "413", "415"),
        *BODY,
    },
    ("/customers/{customerId}/bank-accounts/{bankAccountId}", "delete"): {"200", "400", "401", "404", *ANY},
    ("/payouts", "get"): {"200", "400", "401", *ANY},
    ("/payouts", "post"): {"201", "400", "401", "403", "409", "413", "415", "422", *BODY},
    ("/payouts/{payoutId}", "get"): {"200", "400", "401", "404", *ANY},
    ("/payouts/{payoutId}/cancel", "post"): {"200", "400", "401", "404", "409", "413", "415", "422", *BODY},
    ("/events", "get"): {"200", "400", "401", *ANY},
    ("/events/{eventId}", "get"): {"200", "400", "401", "404", *ANY},
    ("/events/{eventId}/resend", "post"): {"200", "400", "401", "404", "409", "413", "415", "422", *BODY},
    ("/webhook-endpoints", "get"): {"200", "400", "401", *ANY},
    ("/webhook-endpoints", "post"): {"201", "400", "401", "409", "413", "415", "422", *BODY},
    ("/webhook-endpoints/{webhookEndpointId}", "get"): {"200", "400", "401", "404", *ANY},
    ("/webhook-endpoints/{webhookEndpointId}", "patch"): {"200", "400", "401", "404", "413", "415", *BODY},
    ("/webhook-endpoints/{webhookEndpointId}", "delete"): {"200", "400", "401", "404", *ANY},
    (
        "/webhook-endpoints/{webhookEndpointId}/roll-secret",
        "post",
    ): {"200", "400", "401", "404", "409", "413", "415", "422", *BODY},
    ("/webhook-endpoints/{webhookEndpointId}/deliveries", "get"): {"200", "400", "401", "404", *ANY},
    ("/limits", "get"): {"200", "400", "401", *ANY},
}


@pytest.fixture
def openapi(anon, db) -> dict:
    response = anon.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_schema_generation_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_every_operation_documents_its_statuses_with_the_error_body(openapi):
    found = {
        (path, method): set(operation["responses"])
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "patch", "put", "delete"}
    }
    assert found == OPERATIONS
    for (path, method), statuses in OPERATIONS.items():
        responses = openapi["paths"][path][method]["responses"]
        for status in statuses - {"200", "201"}:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_operations_require_the_bearer_key(openapi):
    assert openapi["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for item in openapi["paths"].values():
        for operation in item.values():
            assert operation["security"] == [{"bearerAuth": []}]


def test_request_bodies_are_closed_objects(openapi):
    for name in (
        "CustomerCreateInputRequest",
        "PatchedCustomerUpdateInputRequest",
        "BankAccountCreateInputRequest",
        "PatchedBankAccountUpdateInputRequest",
        "PayoutCreateInputRequest",
    ):
        assert openapi["components"]["schemas"][name]["additionalProperties"] is False


def test_every_post_documents_the_idempotency_key(openapi):
    for path, item in openapi["paths"].items():
        if "post" in item:
            names = [p["name"] for p in item["post"].get("parameters", []) if p["in"] == "header"]
            assert names == ["Idempotency-Key"], path


def extra_error_keys_in_the_code() -> set[str]:
    """Every key an error adds to the error object: DomainError(..., extra={"key": ...}) anywhere in the code."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    keys = set()
    packages = [folder for folder in root.iterdir() if folder.is_dir() and not folder.name.startswith(".")]
    for source in (source for package in packages for source in package.rglob("*.py")):
        if "tests" in source.parts:
            continue
        for extra in re.findall(r"extra=\{([^}]*)\}", source.read_text()):
            keys |= set(re.findall(r'"(\w+)"\s*:', extra))
    return keys


def test_the_error_object_declares_every_extra_key_errors_carry(openapi):
    import re

    detail = openapi["components"]["schemas"]["ErrorDetail"]
    keys = extra_error_keys_in_the_code()
    assert keys >= {"bankAccountId", "customerId", "status", "limit"}  # the scan finds them (one error each)
    for key in keys:
        assert key in detail["properties"], f"error.{key} is not in the ErrorDetail schema"
        assert key not in detail["required"], key  # each is on one error only
        assert re.match(r"On a 4\d\d \w+", detail["properties"][key]["description"]), key
    assert detail["properties"]["status"]["enum"] == ["processing", "paid", "failed", "canceled"]


def test_a_conflict_answers_only_what_the_schema_declares(api, create_customer, openapi):
    import re

    taken = create_customer(externalId="crm-1")
    error = api.post("/customers", {"type": "individual", "name": "N", "country": "AR", "externalId": "crm-1"}).json()
    detail = openapi["components"]["schemas"]["ErrorDetail"]
    assert error["error"]["code"] == "customer_external_id_exists"
    assert set(error["error"]) <= set(detail["properties"])
    assert error["error"]["customerId"] == taken["customerId"]
    assert re.match(detail["properties"]["customerId"]["pattern"], taken["customerId"])
