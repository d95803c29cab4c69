import re

from merchants.models import ApiKey
from testsupport.api import ApiClient


def test_key_list_shows_prefixes_not_secrets(staff, merchant):
    page = staff.get("/admin/merchants/apikey/").content.decode()
    assert merchant.test_key.public_id in page and merchant.test_key.prefix in page
    assert merchant.test not in page and merchant.test_key.key_hash not in page


def test_revoke_action(staff, merchant):
    response = staff.post(
        "/admin/merchants/apikey/", {"action": "revoke_keys", "_selected_action": [merchant.test_key.pk]}
    )
    assert response.status_code == 302
    assert ApiClient(merchant.test).get("/customers").json()["error"]["code"] == "api_key_revoked"


def test_roll_action_shows_the_new_key_once(staff, merchant):
    response = staff.post(
        "/admin/merchants/apikey/", {"action": "roll_keys", "_selected_action": [merchant.live_key.pk]}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert "sk_live_" not in str(staff.cookies) and "sk_live_" not in str(dict(staff.session))
    new_key = ApiKey.objects.exclude(pk=merchant.live_key.pk).get(livemode=True, merchant=merchant.merchant)
    secret = re.search(r"sk_live_[A-Za-z0-9]+", response.content.decode()).group(0)
    assert ApiClient(secret).get("/customers").status_code == 200
    assert ApiClient(merchant.live).get("/customers").status_code == 200  # still inside its grace period
    assert ApiKey.objects.get(pk=merchant.live_key.pk).rolled_to_id == new_key.pk


def test_customer_admin_lists_customers(staff, create_customer):
    customer = create_customer()
    page = staff.get("/admin/customers/customer/").content.decode()
    assert customer["customerId"] in page and "Gerardo Ratto" in page
