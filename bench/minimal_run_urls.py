"""bench.urls, plus two bare views under the project's settings and middleware, served by bench/minimal_run.py:
a payout insert, the least Django needs to write one payouts_payout row (its indexes, foreign keys and audit
trigger included) from the API's JSON body; and a first page of 50 customers (no cursor)."""

import json
from decimal import Decimal

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench.urls import urlpatterns as bench_urlpatterns
from bench.views import PAGE_FIELDS
from core import crypto
from customers.models import Customer
from payouts.models import Payout

# A configured key's id: the rows are not decryptable (not encrypted at all), but pending payouts under an
# unknown key would stop every later worker from starting (payouts.E001), gunicorn's max_requests restarts
# mid-run included.
BENCH_KEY_ID = crypto.primary_key_id()


def bare_page_first(request):
    """The newest 50 customers of a merchant. Ordered by the scope columns too, as the API's pages are
    (core/pagination.py): otherwise PostgreSQL walks the primary key backwards past every newer row
    of the other merchants (bench/views.py's bare_page, with no cursor, takes ~9 ms that way)."""
    rows = Customer.objects.filter(merchant_id=int(request.GET["merchant"]), livemode=False)
    return JsonResponse({"data": list(rows.order_by("merchant_id", "livemode", "-pk").values(*PAGE_FIELDS)[:50])})


@csrf_exempt
def bare_payout_insert(request):
    """One payout to the customer in the body, to the bank account given in the query string."""
    body = json.loads(request.body)
    payout = Payout.objects.create(
        merchant_id=int(request.GET["merchant"]),
        livemode=False,
        customer_public_id=body["customerId"],
        bank_account_public_id=request.GET["account"],
        amount=Decimal(body["amount"]),
        currency=body["currency"],
        destination_ciphertext="bench",
        destination_key_id=BENCH_KEY_ID,
        destination_fingerprint="bench",
        destination_last4="0000",
    )
    return JsonResponse({"id": payout.public_id, "amount": str(payout.amount), "status": payout.status}, status=201)


urlpatterns = [
    path("bare/payout", bare_payout_insert),
    path("bare/page-first", bare_page_first),
    *bench_urlpatterns,
]
