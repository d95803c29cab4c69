from django.urls import path

from bench import views
from payoutsite.urls import urlpatterns as api_urlpatterns

urlpatterns = [
    path("bare/insert", views.bare_insert),
    path("bare/page", views.bare_page),
    *api_urlpatterns,
]
