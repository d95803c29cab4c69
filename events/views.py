import re

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.authentication import request_scope
from api.schema import (
    READ,
    READ_ONE,
    WRITE,
    WRITE_ONE,
    WRITE_ONE_CONFLICT,
    created_at_parameters,
    error_responses,
    id_parameter,
    idempotency_key_parameter,
    page_parameters,
)
from api.serializers import validated
from api.views import ApiViewSet, idempotent
from events import selectors, services
from events.models import WebhookEndpoint
from events.representations import (
    ENDPOINT_FIELDS,
    EVENT_FIELDS,
    delivery_representation,
    endpoint_representation,
    event_representation,
    row,
)
from events.serializers import (
    DeliveryListOutput,
    EndpointCreateInput,
    EndpointListOutput,
    EndpointOutput,
    EndpointUpdateInput,
    EndpointWithSecretOutput,
    EventListOutput,
    EventOutput,
    NoInput,
    ResendInput,
)
from events.types import EVENT_TYPES

EVENT_ID = id_parameter("eventId", "evt")
_ONE_TYPE = "(" + "|".join(re.escape(name) for name in EVENT_TYPES) + ")"
TYPES_PATTERN = f"^{_ONE_TYPE}(,{_ONE_TYPE})*$"
ENDPOINT_ID = id_parameter("webhookEndpointId", "we")


def _with_secret(data: dict, status_code: int = 200) -> Response:
    """An answer carrying a signing secret: an Idempotency-Key replay of it shows the secret as null (the
    idempotency record never keeps it in clear; roll the secret if the first answer was lost)."""
    response = Response(data, status=status_code)
    response.never_stored = ("secret",)
    return response


class EventViewSet(ApiViewSet):
    lookup_url_kwarg = "eventId"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        operation_id="listEvents",
        parameters=[
            *page_parameters("evt", "event"),
            OpenApiParameter(
                "type",
                {"type": "string", "pattern": TYPES_PATTERN},
                description=f"One type or several, comma-separated: {', '.join(EVENT_TYPES)}.",
            ),
            *created_at_parameters(),
        ],
        responses={200: EventListOutput, **error_responses(READ)},
    )
    def list(self, request):
        page = selectors.event_list(scope=request_scope(request), params=request.query_params)
        return Response({"data": [event_representation(r) for r in page.rows], "hasMore": page.has_more})

    @extend_schema(
        operation_id="retrieveEvent", parameters=[EVENT_ID], responses={200: EventOutput, **error_responses(READ_ONE)}
    )
    def retrieve(self, request, eventId: str):
        event = selectors.event_get(scope=request_scope(request), event_id=eventId)
        return Response(event_representation(row(event, EVENT_FIELDS)))

    @extend_schema(
        operation_id="resendEvent",
        description="Delivers the event again, as a new delivery: to webhookEndpointId, or to every enabled "
        "endpoint listening for its type. Answers with the event.",
        parameters=[EVENT_ID, idempotency_key_parameter()],
        request=ResendInput,
        responses={200: EventOutput, **error_responses(WRITE_ONE_CONFLICT)},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def resend(self, request, eventId: str):
        scope = request_scope(request)
        event = selectors.event_get(scope=scope, event_id=eventId)
        data = validated(ResendInput, request.data)
        endpoint = None
        if "webhookEndpointId" in data:
            endpoint = selectors.endpoint_get(scope=scope, endpoint_id=data["webhookEndpointId"])
        services.event_resend(event=event, endpoint=endpoint)
        return Response(event_representation(row(event, EVENT_FIELDS)))


class WebhookEndpointViewSet(ApiViewSet):
    lookup_url_kwarg = "webhookEndpointId"
    lookup_value_regex = "[^/]+"

    def _endpoint(self, request, endpoint_id: str) -> WebhookEndpoint:
        return selectors.endpoint_get(scope=request_scope(request), endpoint_id=endpoint_id)

    @extend_schema(
        operation_id="listWebhookEndpoints",
        parameters=[
            *page_parameters("we", "webhook endpoint"),
            OpenApiParameter("status", {"type": "string", "enum": WebhookEndpoint.Status.values}),
        ],
        responses={200: EndpointListOutput, **error_responses(READ)},
    )
    def list(self, request):
        page = selectors.endpoint_list(scope=request_scope(request), params=request.query_params)
        return Response({"data": [endpoint_representation(r) for r in page.rows], "hasMore": page.has_more})

    @extend_schema(
        operation_id="createWebhookEndpoint",
        description="The answer carries the signing secret (whsec_…), shown only here and at a roll. "
        "A replay with the same Idempotency-Key answers the same endpoint with secret null: roll it if the "
        "first answer was lost.",
        parameters=[idempotency_key_parameter()],
        request=EndpointCreateInput,
        responses={201: EndpointWithSecretOutput, **error_responses(WRITE)},
    )
    @idempotent
    def create(self, request):
        data = validated(EndpointCreateInput, request.data)
        endpoint, secret = services.endpoint_create(scope=request_scope(request), **data)
        shown = endpoint_representation(row(endpoint, ENDPOINT_FIELDS), secret=secret)
        return _with_secret(shown, status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="retrieveWebhookEndpoint",
        parameters=[ENDPOINT_ID],
        responses={200: EndpointOutput, **error_responses(READ_ONE)},
    )
    def retrieve(self, request, webhookEndpointId: str):
        endpoint = self._endpoint(request, webhookEndpointId)
        return Response(endpoint_representation(row(endpoint, ENDPOINT_FIELDS)))

    @extend_schema(
        operation_id="updateWebhookEndpoint",
        parameters=[ENDPOINT_ID],
        request=EndpointUpdateInput,
        responses={200: EndpointOutput, **error_responses(WRITE_ONE)},
    )
    def partial_update(self, request, webhookEndpointId: str):
        endpoint = self._endpoint(request, webhookEndpointId)
        endpoint = services.endpoint_update(endpoint=endpoint, **validated(EndpointUpdateInput, request.data))
        return Response(endpoint_representation(row(endpoint, ENDPOINT_FIELDS)))

    @extend_schema(
        operation_id="deleteWebhookEndpoint",
        description="Stops every delivery to the endpoint; answers with the endpoint and deleted: true.",
        parameters=[ENDPOINT_ID],
        responses={200: EndpointOutput, **error_responses(READ_ONE)},
    )
    def destroy(self, request, webhookEndpointId: str):
        endpoint = self._endpoint(request, webhookEndpointId)
        services.endpoint_delete(endpoint=endpoint)
        return Response({**endpoint_representation(row(endpoint, ENDPOINT_FIELDS)), "deleted": True})

    @extend_schema(
        operation_id="rollWebhookEndpointSecret",
        description="A new signing secret, shown only here. The previous one keeps signing beside it "
        "(two v1 signatures in webhook-signature) for WEBHOOK_SECRET_GRACE_SECONDS (24 hours by default).",
        parameters=[ENDPOINT_ID, idempotency_key_parameter()],
        request=NoInput,
        responses={200: EndpointWithSecretOutput, **error_responses(WRITE_ONE_CONFLICT)},
    )
    @action(detail=True, methods=["post"], url_path="roll-secret")
    @idempotent
    def roll_secret(self, request, webhookEndpointId: str):
        endpoint = self._endpoint(request, webhookEndpointId)
        validated(NoInput, request.data)
        endpoint, secret = services.endpoint_roll_secret(endpoint=endpoint)
        return _with_secret(endpoint_representation(row(endpoint, ENDPOINT_FIELDS), secret=secret))

    @extend_schema(
        operation_id="listWebhookEndpointDeliveries",
        description="Each delivery of an event to this endpoint, newest first, with every attempt.",
        parameters=[ENDPOINT_ID, *page_parameters("whd", "delivery")],
        responses={200: DeliveryListOutput, **error_responses(READ_ONE)},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, webhookEndpointId: str):
        endpoint = self._endpoint(request, webhookEndpointId)
        page, attempts = selectors.delivery_list(endpoint=endpoint, params=request.query_params)
        data = [delivery_representation(r, endpoint.public_id, attempts[r["pk"]]) for r in page.rows]
        return Response({"data": data, "hasMore": page.has_more})
