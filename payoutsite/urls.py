from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import Resolver404, include, path, register_converter, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from api.errors import json_not_found

admin.site.site_header = "Payouts compliance"
admin.site.site_title = "Payouts compliance"
admin.site.index_title = "Beneficiaries and payouts"

UNROUTED = "unrouted"


class UnroutedConverter:
    """Any path the routes above did not take, except one that APPEND_SLASH would redirect (its path with a
    slash is a route): those stay unmatched, so Django's CommonMiddleware redirects them as it always does."""

    regex = ".*"

    def to_python(self, value: str) -> str:
        if settings.APPEND_SLASH and not value.endswith("/"):
            try:
                match = resolve(f"/{value}/")
            except Resolver404:
                return value
            if match.url_name != UNROUTED and getattr(match.func, "should_append_slash", True):
                raise ValueError(value)  # not this route: Django's own 404 handling redirects it
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UnroutedConverter, "unrouted")


@csrf_exempt  # it changes nothing: a POST to a stray path is a 404, as without this route, not a CSRF 403
def unrouted(request, path: str):
    """The JSON 404 for a path no route takes, for every method. handler404 alone is not enough: with DEBUG
    on (make run) Django answers such paths with its HTML debug page, which lists every URL pattern."""
    return json_not_found(request)


# The API's routes first: Django tries patterns in order, so every API request would otherwise pay for
# matching the admin's and the docs' first. No two of these overlap, so the order changes nothing else.
urlpatterns = [
    path("", include("customers.urls")),
    path("", include("payouts.urls")),
    path("", include("events.urls")),
    path("", include("limits.urls")),
    path("healthz", lambda request: JsonResponse({"ok": True}), name="healthz"),
    path("admin/", admin.site.urls),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("<unrouted:path>", unrouted, name=UNROUTED),  # last: only what nothing above takes
]

handler400 = "api.errors.json_bad_request"
handler404 = "api.errors.json_not_found"
handler500 = "api.errors.json_server_error"
