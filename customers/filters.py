from django import forms
from django_filters import CharFilter, ChoiceFilter, FilterSet

from customers.countries import COUNTRY_CHOICES
from customers.models import Customer
from payoutsite.api.filters import created_at_filters


class EmailFilter(CharFilter):
    field_class = forms.EmailField


class CustomerFilter(FilterSet):
    email = EmailFilter(field_name="email", lookup_expr="exact", max_length=254)
    type = ChoiceFilter(choices=Customer.Type.choices)
    country = ChoiceFilter(choices=COUNTRY_CHOICES)

    class Meta:
        model = Customer
        fields: list[str] = []


CustomerFilter.base_filters.update(created_at_filters())
