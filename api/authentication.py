"""Bearer secret-key authentication. The key (request.auth) carries the scope: merchant and mode."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from audit.context import set_actor
from core.errors import NotAuthenticated
from core.scope import Scope
from merchants.selectors import api_key_authenticate
from merchants.services import api_key_mark_used


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthenticationFailed("Send the key as 'Authorization: Bearer sk_test_…'.", code="api_key_invalid")
        try:
            key = api_key_authenticate(secret=secret.strip())
        except NotAuthenticated as error:  # DRF's own 401 path: WWW-Authenticate, no user
            raise AuthenticationFailed(error.message, code=error.code) from None
        set_actor(f"api_key:{key.prefix}", api_key=key.public_id)
        api_key_mark_used(api_key=key)
        return (None, key)

    def authenticate_header(self, request) -> str:
        return "Bearer"


class HasApiKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.auth is not None


def request_scope(request) -> Scope:
    return request.auth.scope


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A secret key: `sk_test_…` (test mode) or `sk_live_…` (live mode).",
        }
