from django_filters import CharFilter, ChoiceFilter, FilterSet

from customers.countries import COUNTRY_CHOICES
from customers.models import Customer
from payoutsite.api.filters import created_at_filters


class CustomerFilter(FilterSet):
    email = CharFilter(field_name="email", lookup_expr="exact", max_length=254)
    type = ChoiceFilter(choices=Customer.Type.choices)
    country = ChoiceFilter(choices=COUNTRY_CHOICES)

    class Meta:
        model = Customer
        fields: list[str] = []


CustomerFilter.base_filters.update(created_at_filters())
