from django.urls import path

from bench.minimal import views

urlpatterns = [
    path("customers", views.customers),
    path("payouts", views.payouts),
    path("healthz", views.healthz),
]
