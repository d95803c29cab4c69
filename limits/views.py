from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from api.authentication import request_scope
from api.schema import error_responses
from api.serializers import validated
from api.views import ApiViewSet
from core.errors import InvalidParameters
from core.ids import is_public_id
from customers.selectors import customers_in_scope
from limits import selectors
from limits.serializers import LimitsOutput, LimitsQuery


class LimitsViewSet(ApiViewSet):
    @extend_schema(
        operation_id="retrieveLimits",
        description="The payout limits of the key's mode (amounts in ARS, as strings; null: no limit), today's "
        "usage and what remains. Days are Argentina's calendar days. With ?customerId=, that customer's "
        "usage of the per-customer daily limit too.",
        parameters=[OpenApiParameter("customerId", {"type": "string", "pattern": "^cust_[A-Za-z0-9]{24}$"})],
        responses={200: LimitsOutput, **error_responses((400, 401))},
    )
    def list(self, request):
        scope = request_scope(request)
        params = request.query_params
        if len(params.getlist("customerId")) > 1:
            raise InvalidParameters.single("customerId", "parameter_invalid", "customerId must be given once.")
        # A plain dict: from a QueryDict, DRF would take an empty ?customerId= for one not sent.
        customer = validated(LimitsQuery, params.dict()).get("customer_public_id")
        if customer is not None and not (
            is_public_id(customer, "cust") and customers_in_scope(scope=scope).filter(public_id=customer).exists()
        ):
            raise InvalidParameters.single("customerId", "invalid_customer", f"No such customer: {customer!r}.")
        return Response(selectors.limits_overview(scope=scope, customer_public_id=customer))
