"""The limits' back-office answers bad input with a form error, an admin message or a 400, never a 500 and
never a half-written row: odd numbers, NUL characters, ids that are no ids, selected rows that are no rows."""

from decimal import Decimal

import pytest
from django.test import Client

from limits.models import PayoutLimit, PayoutLimitChange
from limits.services import limits_set

LIMITS = "/admin/limits/payoutlimit/"
ADD = f"{LIMITS}add/"
CHANGES = "/admin/limits/payoutlimitchange/"


@pytest.fixture
def ana(admin_ana) -> Client:
    client = Client()
    client.force_login(admin_ana)
    return client


@pytest.fixture
def bruno(admin_bruno) -> Client:
    client = Client()
    client.force_login(admin_bruno)
    return client


@pytest.fixture
def pending(merchant, admin_ana) -> PayoutLimitChange:
    limits_set(merchant=merchant.merchant, livemode=False, values={"daily_max": Decimal("100")}, by=admin_ana)
    return limits_set(
        merchant=merchant.merchant, livemode=False, values={"daily_max": Decimal("500")}, by=admin_ana
    ).pending


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


ODD_AMOUNTS = ["NaN", "sNaN", "Infinity", "-Infinity", "1e999", "-5", "0", "-0", "0.001", "1" * 13, "1" * 5000, "a\x00"]


def test_a_limit_not_above_zero_says_so_on_its_field(ana, merchant):
    data = {"merchant": merchant.merchant.pk, "single_max": "-5", "daily_max": "0", "customer_daily_max": ""}
    errors = ana.post(ADD, data).context["adminform"].form.errors
    refused = ["A limit must be more than 0.00 ARS."]
    assert errors == {"single_max": refused, "daily_max": refused}


@pytest.mark.parametrize("value", ODD_AMOUNTS)
def test_an_odd_limit_is_a_form_error_on_a_first_setting(ana, merchant, value):
    data = {"merchant": merchant.merchant.pk, "single_max": value, "daily_max": "", "customer_daily_max": ""}
    response = ana.post(ADD, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["single_max"]
    assert not PayoutLimit.objects.exists()


@pytest.mark.parametrize("value", ODD_AMOUNTS)
def test_an_odd_limit_is_a_form_error_on_a_change(ana, merchant, pending, value):
    limits = PayoutLimit.objects.get()
    data = {"single_max": "", "daily_max": value, "customer_daily_max": ""}
    response = ana.post(f"{LIMITS}{limits.pk}/change/", data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["daily_max"]
    assert PayoutLimit.objects.get().daily_max == Decimal("100.00")
    assert list(PayoutLimitChange.objects.values_list("status", flat=True)) == ["pending"]


@pytest.mark.parametrize("value", ["abc", "a\x00", "-1", "1" * 5000, "99999999999999999999"])
def test_a_merchant_that_is_no_id_is_a_form_error(ana, value):
    response = ana.post(ADD, {"merchant": value, "single_max": "5.00", "daily_max": "", "customer_daily_max": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["merchant"] in (
        ["Select a valid choice. That choice is not one of the available choices."],
        ["Null characters are not allowed."],
    )
    assert not PayoutLimit.objects.exists()


@pytest.mark.parametrize(
    "url", [f"{CHANGES}?status__exact=%00", f"{CHANGES}?reason=a%00", f"{CHANGES}?%00=1", f"{LIMITS}?q=a%00"]
)
def test_a_nul_character_in_a_lists_query_string_is_a_400(ana, pending, url):
    response = ana.get(url)
    assert response.status_code == 400


def test_the_merchant_autocomplete_finds_nothing_for_a_nul_character(ana, merchant):
    params = {"app_label": "limits", "model_name": "payoutlimit", "field_name": "merchant"}
    response = ana.get("/admin/autocomplete/", {**params, "term": "Ac\x00"})
    assert (response.status_code, response.json()["results"]) == (200, [])
    found = ana.get("/admin/autocomplete/", {**params, "term": "Acme"}).json()["results"]
    assert [result["text"] for result in found] == [str(merchant.merchant)]


@pytest.mark.parametrize("selected", [["abc"], ["a\x00"], ["1" * 5000], ["-1"], ["١"]])
@pytest.mark.parametrize("action", ["approve_selected", "refuse_selected"])
def test_selected_rows_that_are_no_ids_decide_nothing(bruno, pending, selected, action):
    data = {"action": action, "_selected_action": [pending.pk, *selected], "apply": "1", "reason": "checked"}
    response = bruno.post(CHANGES, data, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == ["Select rows from the list: some selected rows are no rows."]
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_a_refusal_whose_reason_has_a_nul_character_is_refused(bruno, pending):
    data = {"action": "refuse_selected", "_selected_action": [pending.pk], "apply": "1", "reason": "no\x00pe"}
    response = bruno.post(CHANGES, data, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == ["The reason cannot contain a NUL character."]
    pending.refresh_from_db()
    assert pending.status == "pending"
