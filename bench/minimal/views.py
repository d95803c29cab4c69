"""Three plain Django views: insert one customer from a JSON body, answer a keyset page of customers as JSON,
insert one payout from a JSON body. A bearer secret compared as a string is their authentication; no
validation beyond what a KeyError or ValueError gives, no error format, no audit, no idempotency."""

import json
import secrets
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from bench.minimal.models import Customer, Payout

PAGE_FIELDS = ("public_id", "type", "name", "email", "country", "metadata", "created_at", "last_out", "livemode")


def _authorized(request) -> bool:
    return request.META.get("HTTP_AUTHORIZATION") == f"Bearer {settings.MINIMAL_API_KEY}"


@csrf_exempt
def customers(request):
    if not _authorized(request):
        return HttpResponse(status=401)
    if request.method == "POST":
        body = json.loads(request.body)
        customer = Customer.objects.create(
            public_id="cust_" + secrets.token_hex(12),
            merchant_id=settings.MINIMAL_MERCHANT_ID,
            livemode=False,
            type=body["type"],
            name=body["name"],
            email=body.get("email", ""),
            country=body["country"],
            metadata=body.get("metadata", {}),
            created_at=timezone.now().replace(microsecond=0),
        )
        return JsonResponse({field: getattr(customer, field) for field in PAGE_FIELDS}, status=201)
    limit = int(request.GET.get("limit", "10"))
    rows = Customer.objects.filter(merchant_id=settings.MINIMAL_MERCHANT_ID, livemode=False)
    if "after" in request.GET:  # the cursor is the row's primary key: with no other index, that is all it has
        rows = rows.filter(pk__lt=int(request.GET["after"]))
    page = list(rows.order_by("-pk").values(*PAGE_FIELDS)[: limit + 1])
    return JsonResponse({"data": page[:limit], "hasMore": len(page) > limit})


@csrf_exempt
def payouts(request):
    if not _authorized(request):
        return HttpResponse(status=401)
    body = json.loads(request.body)
    now = timezone.now()
    payout = Payout.objects.create(
        public_id="po_" + secrets.token_hex(12),
        merchant_id=settings.MINIMAL_MERCHANT_ID,
        livemode=False,
        customer_public_id=body["customerId"],
        bank_account_public_id="ba_minimal",
        amount=Decimal(body["amount"]),
        currency=body["currency"],
        destination_ciphertext="minimal",
        destination_key_id="minimal",
        destination_fingerprint="minimal",
        destination_last4="0000",
        created_at=now.replace(microsecond=0),
        updated_at=now,
    )
    return JsonResponse(
        {"id": payout.public_id, "amount": str(payout.amount), "currency": payout.currency, "status": payout.status},
        status=201,
    )


def healthz(request):
    return JsonResponse({"ok": True})
