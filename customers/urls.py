from rest_framework.routers import SimpleRouter

from customers.views import BankAccountViewSet, CustomerViewSet

router = SimpleRouter(trailing_slash=False)
router.register("customers", CustomerViewSet, basename="customer")
router.register(r"customers/(?P<customerId>[^/]+)/bank-accounts", BankAccountViewSet, basename="bank-account")

urlpatterns = router.urls
