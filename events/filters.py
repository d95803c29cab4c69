from django import forms
from django_filters import CharFilter, ChoiceFilter, FilterSet

from core.filters import created_at_filters
from events.models import Delivery, Event, WebhookEndpoint
from events.types import EVENT_TYPES


class EventTypesField(forms.CharField):
    """One type, or several separated by commas: type=payout.paid,payout.failed."""

    def to_python(self, value):
        if value in self.empty_values:
            return []
        names = [name.strip() for name in (super().to_python(value) or "").split(",") if name.strip()]
        unknown = [name for name in names if name not in EVENT_TYPES]
        if unknown or not names:
            raise forms.ValidationError(f"Unknown event type: {(unknown or [''])[0][:64]!r}.", code="invalid")
        return names


class EventTypesFilter(CharFilter):
    field_class = EventTypesField

    def filter(self, queryset, value):
        return queryset.filter(type__in=value) if value else queryset


class EventFilter(FilterSet):
    type = EventTypesFilter()

    class Meta:
        model = Event
        fields: list[str] = []


EventFilter.base_filters.update(created_at_filters())


class EndpointFilter(FilterSet):
    status = ChoiceFilter(choices=WebhookEndpoint.Status.choices)

    class Meta:
        model = WebhookEndpoint
        fields: list[str] = []


class DeliveryFilter(FilterSet):
    """Deliveries take only the page parameters."""

    class Meta:
        model = Delivery
        fields: list[str] = []
