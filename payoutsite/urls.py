from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

admin.site.site_header = "Payouts compliance"
admin.site.site_title = "Payouts compliance"
admin.site.index_title = "Beneficiaries and payouts"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("healthz", lambda request: JsonResponse({"ok": True}), name="healthz"),
    path("", include("customers.urls")),
    path("", include("payouts.urls")),
]

handler400 = "payoutsite.api.errors.json_bad_request"
handler404 = "payoutsite.api.errors.json_not_found"
handler500 = "payoutsite.api.errors.json_server_error"
