"""Schemathesis against the served /openapi.json, in process: schema-generated valid and invalid requests.

Fails on any 500, any response that breaks the schema (undocumented status, wrong body, missing header
handling), any schema-invalid request accepted, and any schema-valid request rejected for a reason the
schema does not document.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from merchants.models import ApiKey, Merchant
from merchants.services import hash_secret

FUZZ_SECRET = "sk_test_" + "Fuzz" * 10

# Rejections OpenAPI 3.0 cannot express: a well-formed id that is not one of this merchant's (a cursor,
# a customer, an account, a default; a customer without a default account), both cursors at once, rules
# on metadata keys (3.0 has no propertyNames), check digits (CBU blocks, CUIT/CUIL), and NUL characters in
# strings (PostgreSQL text cannot hold them; a pattern on every string field would only clutter the schema),
# and names that are only whitespace once trimmed (Python's whitespace, e.g. \x1f, is not a regex's \s).
# Every other 400 on a schema-valid request is a bug.
SCHEMA_INEXPRESSIBLE = {
    "cursor_invalid",
    # Webhook endpoint URLs: whether one parses, and where it resolves, is not a JSON Schema question.
    "url_invalid",
    "url_not_https",
    "url_not_public",
    "url_not_resolvable",
    "webhook_endpoint_disabled",
    "parameter_conflict",
    "metadata_key_invalid",
    "invalid_default_bank_account",
    "account_number_invalid_bank_block",
    "account_number_invalid_account_block",
    "invalid_cuit",
    "invalid_cuil",
    "invalid_customer",
    "invalid_bank_account",
    "no_default_bank_account",
    "destination_mismatch",
    "parameter_invalid_characters",
    "parameter_blank",
    "amount_too_large",  # PAYOUT_MAX_AMOUNT is configuration; a string's numeric maximum is not expressible
}


STATEFUL_CONFLICTS = {
    "idempotency_error",
    "idempotency_key_in_use",
    "payout_not_cancelable",
    "bank_account_exists",
    "customer_external_id_exists",
}


@schemathesis.auth(refresh_interval=None)
class BearerKey:
    """Lets schemathesis know the credential, so it can also probe requests without it."""

    def get(self, case, ctx):
        return FUZZ_SECRET

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def api_schema(db):
    merchant = Merchant.objects.create(name="Fuzz")
    ApiKey.objects.create(merchant=merchant, livemode=False, key_hash=hash_secret(FUZZ_SECRET), prefix=FUZZ_SECRET[:12])
    # As Django's test client does: the requests run inside the test's transaction, so the per-request
    # connection clean-up must not close that connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/openapi.json", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    response = case.call()
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    if case.meta is not None and case.meta.generation.mode.is_positive and "Authorization" in (case.headers or {}):
        if response.status_code == 400:
            codes = {error["code"] for error in response.json()["error"]["errors"]}
            assert codes <= SCHEMA_INEXPRESSIBLE, f"schema-valid request rejected: {response.text}"
        elif response.status_code in (409, 422):
            # Stateful and documented: an object's state (a payout no longer pending, an account already
            # there), or an Idempotency-Key that generated cases happen to share.
            assert response.json()["error"]["code"] in STATEFUL_CONFLICTS, response.text
        else:
            assert response.status_code < 400 or response.status_code == 404, response.text
