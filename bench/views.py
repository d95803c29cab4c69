"""Baselines: the least Django needs to insert one row, or to answer one keyset page of 50 rows as JSON.

No authentication, no validation, no error format: what the API endpoints cost is measured as a
ratio to these, in the same run, on the same server.
"""

from django.db.models import Subquery
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from customers.models import Customer

PAGE_FIELDS = ("public_id", "type", "name", "email", "country", "metadata", "created_at", "last_out", "livemode")


@csrf_exempt
def bare_insert(request):
    customer = Customer.objects.create(
        merchant_id=int(request.GET["merchant"]), livemode=False, type="individual", name="Bench", country="AR"
    )
    return JsonResponse({"id": customer.public_id}, status=201)


def bare_page(request):
    """Rows after the customer whose public id is `after`, the cursor a client has, resolved in the query."""
    scope = Customer.objects.filter(merchant_id=int(request.GET["merchant"]), livemode=False)
    rows = scope
    if "after" in request.GET:
        rows = rows.filter(pk__lt=Subquery(scope.filter(public_id=request.GET["after"]).values("pk")))
    return JsonResponse({"data": list(rows.order_by("-pk").values(*PAGE_FIELDS)[:50])})
