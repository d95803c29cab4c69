from django.urls import path

from limits.views import LimitsViewSet

urlpatterns = [path("limits", LimitsViewSet.as_view({"get": "list"}), name="limits")]
