from django import forms
from django_filters import CharFilter, ChoiceFilter, FilterSet

from core.filters import created_at_filters
from customers.countries import COUNTRY_CODES
from customers.models import BankAccount, Customer


class EmailFilter(CharFilter):
    field_class = forms.EmailField


class CountryField(forms.CharField):
    """A plain field checked against a set: a ChoiceField of 249 countries is deep-copied per request."""

    def validate(self, value):
        super().validate(value)
        if value and value not in COUNTRY_CODES:
            raise forms.ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.", code="invalid")


class CountryFilter(CharFilter):
    field_class = CountryField


class CustomerFilter(FilterSet):
    email = EmailFilter(field_name="email", lookup_expr="exact", max_length=254)
    type = ChoiceFilter(choices=Customer.Type.choices)
    country = CountryFilter()
    externalId = CharFilter(field_name="external_id", lookup_expr="exact", max_length=128)

    class Meta:
        model = Customer
        fields: list[str] = []


CustomerFilter.base_filters.update(created_at_filters())


class BankAccountFilter(FilterSet):
    status = ChoiceFilter(choices=BankAccount.Status.choices)

    class Meta:
        model = BankAccount
        fields: list[str] = []


BankAccountFilter.base_filters.update(created_at_filters())
