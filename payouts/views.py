from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.authentication import request_scope
from api.schema import (
    READ,
    READ_ONE,
    created_at_parameters,
    error_responses,
    id_parameter,
    idempotency_key_parameter,
    page_parameters,
)
from api.views import ApiViewSet, idempotent
from payouts import selectors, services
from payouts.models import Payout
from payouts.representations import payout_representation, payout_to_dict
from payouts.serializers import (
    PayoutCancelInput,
    PayoutCreateInput,
    PayoutListOutput,
    PayoutOutput,
)

PAYOUT_ID = id_parameter("payoutId", "po")


class PayoutViewSet(ApiViewSet):
    lookup_url_kwarg = "payoutId"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        operation_id="listPayouts",
        parameters=[
            *page_parameters("po", "payout"),
            OpenApiParameter("customerId", {"type": "string", "pattern": "^cust_[A-Za-z0-9]{24}$"}),
            OpenApiParameter("status", {"type": "string", "enum": Payout.Status.values}),
            *created_at_parameters(),
        ],
        responses={200: PayoutListOutput, **error_responses(READ)},
    )
    def list(self, request):
        page = selectors.payout_list(scope=request_scope(request), params=request.query_params)
        return Response({"data": [payout_representation(row) for row in page.rows], "hasMore": page.has_more})

    @extend_schema(
        operation_id="createPayout",
        parameters=[idempotency_key_parameter()],
        request=PayoutCreateInput,
        responses={201: PayoutOutput, **error_responses((400, 401, 403, 409, 413, 415, 422))},
    )
    @idempotent(batched=True)
    def create(self, request):
        serializer = PayoutCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        payout = services.payout_create(scope=request_scope(request), **serializer.validated_data)
        return Response(payout_to_dict(payout), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="retrievePayout",
        parameters=[PAYOUT_ID],
        responses={200: PayoutOutput, **error_responses(READ_ONE)},
    )
    def retrieve(self, request, payoutId: str):
        return Response(payout_to_dict(selectors.payout_get(scope=request_scope(request), payout_id=payoutId)))

    @extend_schema(
        operation_id="cancelPayout",
        description="Cancels a pending payout, or a held one (waiting for compliance review). Any other status "
        "answers 409 payout_not_cancelable with the current status in error.status.",
        parameters=[PAYOUT_ID, idempotency_key_parameter()],
        request=None,
        responses={200: PayoutOutput, **error_responses((400, 401, 404, 409, 413, 415, 422))},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, payoutId: str):
        payout = selectors.payout_get(scope=request_scope(request), payout_id=payoutId)
        PayoutCancelInput(data=request.data).is_valid(raise_exception=True)
        return Response(payout_to_dict(services.payout_cancel(payout=payout)))
