from django_filters import ChoiceFilter, FilterSet

from payouts.models import Payout
from payoutsite.api.filters import PublicIdFilter, created_at_filters


class PayoutFilter(FilterSet):
    customerId = PublicIdFilter("cust", field_name="customer_id")
    status = ChoiceFilter(choices=Payout.Status.choices)

    class Meta:
        model = Payout
        fields: list[str] = []


PayoutFilter.base_filters.update(created_at_filters())
