"""Webhook endpoint and resend input (shape checks), and the documented output shapes."""

from rest_framework import serializers

from api.serializers import PublicIdField, StrictCharField, StrictInputSerializer
from events.models import Delivery, WebhookEndpoint
from events.types import ALL_EVENTS, EVENT_TYPES
from events.urls_policy import URL_MAX_LENGTH

EVENT_TYPE_CHOICES = [ALL_EVENTS, *EVENT_TYPES]
ENDPOINT_READ_ONLY = ("webhookEndpointId", "secret", "disabledReason", "createdAt", "livemode")


class EnabledEventsField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
            min_length=1,
            max_length=len(EVENT_TYPE_CHOICES),
            source="enabled_events",
            help_text='Event types, or ["*"] for all (including types added later).',
            **kwargs,
        )


class EndpointCreateInput(StrictInputSerializer):
    read_only_params = (*ENDPOINT_READ_ONLY, "status")

    url = StrictCharField(max_length=URL_MAX_LENGTH, help_text="Live mode: https, resolving to public addresses only.")
    enabledEvents = EnabledEventsField()
    description = StrictCharField(required=False, allow_blank=True, max_length=500)


class EndpointUpdateInput(StrictInputSerializer):
    read_only_params = ENDPOINT_READ_ONLY

    url = StrictCharField(required=False, max_length=URL_MAX_LENGTH)
    enabledEvents = EnabledEventsField(required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=500)
    status = serializers.ChoiceField(required=False, choices=WebhookEndpoint.Status.choices)


class ResendInput(StrictInputSerializer):
    webhookEndpointId = PublicIdField(
        "we", required=False, help_text="One endpoint; without it, every enabled endpoint listening for the type."
    )


class NoInput(StrictInputSerializer):
    """Takes no parameters; any sent is rejected as unknown."""


class EventOutput(serializers.Serializer):
    eventId = serializers.CharField()
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    createdAt = serializers.DateTimeField()
    livemode = serializers.BooleanField()
    data = serializers.DictField(
        help_text="object: the resource as the API returned it at that moment; previousAttributes: the old "
        "value of each field that changed (empty for creations)."
    )


class EventListOutput(serializers.Serializer):
    data = EventOutput(many=True)
    hasMore = serializers.BooleanField()


class EndpointOutput(serializers.Serializer):
    webhookEndpointId = serializers.CharField()
    url = serializers.CharField()
    enabledEvents = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=WebhookEndpoint.Status.choices)
    disabledReason = serializers.ChoiceField(
        choices=["merchant", "failing"],
        allow_null=True,
        help_text="failing: no attempt got a 2xx for the whole retry window (about three days).",
    )
    createdAt = serializers.DateTimeField()
    livemode = serializers.BooleanField()


class EndpointWithSecretOutput(EndpointOutput):
    secret = serializers.CharField(help_text="whsec_…: shown only here. Verify signatures with it.")


class EndpointListOutput(serializers.Serializer):
    data = EndpointOutput(many=True)
    hasMore = serializers.BooleanField()


class AttemptOutput(serializers.Serializer):
    attemptedAt = serializers.DateTimeField()
    statusCode = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="timeout, connection_error: …, url_not_public, …")
    durationMs = serializers.IntegerField()
    responseExcerpt = serializers.CharField(help_text="The first 1 KB of the response body.")
    succeeded = serializers.BooleanField()


class DeliveryOutput(serializers.Serializer):
    deliveryId = serializers.CharField()
    eventId = serializers.CharField()
    eventType = serializers.CharField()
    webhookEndpointId = serializers.CharField()
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    nextAttemptAt = serializers.DateTimeField(allow_null=True)
    createdAt = serializers.DateTimeField()
    attempts = AttemptOutput(many=True)


class DeliveryListOutput(serializers.Serializer):
    data = DeliveryOutput(many=True)
    hasMore = serializers.BooleanField()
