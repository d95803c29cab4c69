from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
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
from customers import selectors, services
from customers.countries import COUNTRY_CODES
from customers.models import BankAccount, Customer
from customers.representations import (
    bank_account_representation,
    bank_account_to_dict,
    customer_representation,
    customer_to_dict,
)
from customers.serializers import (
    BankAccountCreateInput,
    BankAccountListOutput,
    BankAccountOutput,
    BankAccountUpdateInput,
    CustomerCreateInput,
    CustomerListOutput,
    CustomerOutput,
    CustomerUpdateInput,
)

CUSTOMER_ID = id_parameter("customerId", "cust")
BANK_ACCOUNT_ID = id_parameter("bankAccountId", "ba")


class CustomerViewSet(ApiViewSet):
    lookup_url_kwarg = "customerId"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        operation_id="listCustomers",
        parameters=[
            *page_parameters("cust", "customer"),
            OpenApiParameter("email", {"type": "string", "format": "email", "maxLength": 254}),
            OpenApiParameter("type", {"type": "string", "enum": Customer.Type.values}),
            OpenApiParameter("country", {"type": "string", "enum": sorted(COUNTRY_CODES)}),
            OpenApiParameter("externalId", {"type": "string", "minLength": 1, "maxLength": 128}),
            *created_at_parameters(),
        ],
        responses={200: CustomerListOutput, **error_responses(READ)},
    )
    def list(self, request):
        page = selectors.customer_list(scope=request_scope(request), params=request.query_params)
        return Response({"data": [customer_representation(row) for row in page.rows], "hasMore": page.has_more})

    @extend_schema(
        operation_id="createCustomer",
        parameters=[idempotency_key_parameter()],
        request=CustomerCreateInput,
        responses={201: CustomerOutput, **error_responses(WRITE)},
    )
    @idempotent(batched=True)
    def create(self, request):
        data = validated(CustomerCreateInput, request.data)
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
        responses={200: CustomerOutput, **error_responses((*WRITE_ONE, 409))},
    )
    def partial_update(self, request, customerId: str):
        customer = selectors.customer_get(scope=request_scope(request), customer_id=customerId)
        data = validated(CustomerUpdateInput, request.data)
        customer = services.customer_update(customer=customer, **data)
        return Response(customer_to_dict(customer))


class BankAccountViewSet(ApiViewSet):
    """/customers/{customerId}/bank-accounts: the customer's CBU/CVU accounts."""

    lookup_url_kwarg = "bankAccountId"
    lookup_value_regex = "[^/]+"

    def _customer(self, request, customer_id: str):
        return selectors.customer_get(scope=request_scope(request), customer_id=customer_id)

    @extend_schema(
        operation_id="listBankAccounts",
        parameters=[
            CUSTOMER_ID,
            *page_parameters("ba", "bank account"),
            OpenApiParameter("status", {"type": "string", "enum": BankAccount.Status.values}),
            *created_at_parameters(),
        ],
        responses={200: BankAccountListOutput, **error_responses(READ_ONE)},
    )
    def list(self, request, customerId: str):
        customer = self._customer(request, customerId)
        page = selectors.bank_account_list(customer=customer, params=request.query_params)
        data = [bank_account_representation(row, customer.public_id) for row in page.rows]
        return Response({"data": data, "hasMore": page.has_more})

    @extend_schema(
        operation_id="createBankAccount",
        parameters=[CUSTOMER_ID, idempotency_key_parameter()],
        request=BankAccountCreateInput,
        responses={201: BankAccountOutput, **error_responses(WRITE_ONE_CONFLICT)},
    )
    @idempotent(batched=True)
    def create(self, request, customerId: str):
        data = validated(BankAccountCreateInput, request.data)
        for fixed in ("country", "currency", "rail"):
            data.pop(fixed)  # validated to be the one supported value; the model holds the same defaults
        account = services.bank_account_add(scope=request_scope(request), customer_id=customerId, **data)
        return Response(bank_account_to_dict(account, customerId), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="retrieveBankAccount",
        parameters=[CUSTOMER_ID, BANK_ACCOUNT_ID],
        responses={200: BankAccountOutput, **error_responses(READ_ONE)},
    )
    def retrieve(self, request, customerId: str, bankAccountId: str):
        customer = self._customer(request, customerId)
        account = selectors.bank_account_get(customer=customer, bank_account_id=bankAccountId)
        return Response(bank_account_to_dict(account, customer.public_id))

    @extend_schema(
        operation_id="updateBankAccount",
        parameters=[CUSTOMER_ID, BANK_ACCOUNT_ID],
        request=BankAccountUpdateInput,
        responses={200: BankAccountOutput, **error_responses(WRITE_ONE)},
    )
    def partial_update(self, request, customerId: str, bankAccountId: str):
        customer = self._customer(request, customerId)
        account = selectors.bank_account_get(customer=customer, bank_account_id=bankAccountId)
        data = validated(BankAccountUpdateInput, request.data)
        account = services.bank_account_update(account=account, **data)
        return Response(bank_account_to_dict(account, customer.public_id))

    @extend_schema(
        operation_id="disableBankAccount",
        description="Disables the account: kept for history, it can no longer receive payouts, and it stops "
        "being the customer's default. Disabling a disabled account changes nothing.",
        parameters=[CUSTOMER_ID, BANK_ACCOUNT_ID],
        responses={200: BankAccountOutput, **error_responses(READ_ONE)},
    )
    def destroy(self, request, customerId: str, bankAccountId: str):
        customer = self._customer(request, customerId)
        account = selectors.bank_account_get(customer=customer, bank_account_id=bankAccountId)
        account = services.bank_account_disable(account=account)
        return Response(bank_account_to_dict(account, customer.public_id))
