from rest_framework.routers import SimpleRouter

from payouts.views import PayoutViewSet

router = SimpleRouter(trailing_slash=False)
router.register("payouts", PayoutViewSet, basename="payout")

urlpatterns = router.urls
