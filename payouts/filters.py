from django_filters import ChoiceFilter, FilterSet

from core.filters import PublicIdFilter, created_at_filters
from payouts.models import Payout


class PayoutFilter(FilterSet):
    customerId = PublicIdFilter("cust", field_name="customer_public_id")
    status = ChoiceFilter(choices=Payout.Status.choices)

    class Meta:
        model = Payout
        fields: list[str] = []


PayoutFilter.base_filters.update(created_at_filters())
