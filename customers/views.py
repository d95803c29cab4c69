from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from customers import selectors, services
from customers.countries import COUNTRY_CODES
from customers.models import Customer
from customers.serializers import (
    CustomerCreateInput,
    CustomerListOutput,
    CustomerOutput,
    CustomerUpdateInput,
    customer_representation,
    customer_to_dict,
)
from payoutsite.api.authentication import request_scope
from payoutsite.api.schema import (
    READ,
    READ_ONE,
    WRITE,
    WRITE_ONE,
    created_at_parameters,
    error_responses,
    id_parameter,
    page_parameters,
)

CUSTOMER_ID = id_parameter("customerId", "cust")


class CustomerViewSet(viewsets.ViewSet):
    lookup_url_kwarg = "customerId"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        operation_id="listCustomers",
        parameters=[
            *page_parameters("cust", "customer"),
            OpenApiParameter("email", {"type": "string", "format": "email", "maxLength": 254}),
            OpenApiParameter("type", {"type": "string", "enum": Customer.Type.values}),
            OpenApiParameter("country", {"type": "string", "enum": sorted(COUNTRY_CODES)}),
            *created_at_parameters(),
        ],
        responses={200: CustomerListOutput, **error_responses(READ)},
    )
    def list(self, request):
        page = selectors.customer_list(scope=request_scope(request), params=request.query_params)
        return Response({"data": [customer_representation(row) for row in page.rows], "hasMore": page.has_more})

    @extend_schema(
        operation_id="createCustomer",
        request=CustomerCreateInput,
        responses={201: CustomerOutput, **error_responses(WRITE)},
    )
    def create(self, request):
        data = _validated(CustomerCreateInput, request.data)
        customer = services.customer_create(scope=request_scope(request), **data)
        return Response(customer_to_dict(customer), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="retrieveCustomer",
        parameters=[CUSTOMER_ID],
        responses={200: CustomerOutput, **error_responses(READ_ONE)},
    )
    def retrieve(self, request, customerId: str):
        customer = selectors.customer_get(scope=request_scope(request), customer_id=customerId)
        return Response(customer_to_dict(customer))

    @extend_schema(
        operation_id="updateCustomer",
        parameters=[CUSTOMER_ID],
        request=CustomerUpdateInput,
        responses={200: CustomerOutput, **error_responses(WRITE_ONE)},
    )
    def partial_update(self, request, customerId: str):
        customer = selectors.customer_get(scope=request_scope(request), customer_id=customerId)
        data = _validated(CustomerUpdateInput, request.data)
        customer = services.customer_update(customer=customer, **data)
        return Response(customer_to_dict(customer))


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
