import json

from django.contrib import admin, messages
from django.utils.html import format_html

from compliance.admin_bases import ReadOnlyAdmin, ReadOnlyInline
from events import services
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from events.types import EVENT_TYPES


class EventTypeFilter(admin.SimpleListFilter):
    """The known types, listed without a SELECT DISTINCT over every event on each page view."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EVENT_TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "status_code", "error", "duration_ms", "response_excerpt", "succeeded")
    ordering = ("id",)


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ("public_id", "endpoint", "status", "attempts", "next_attempt_at", "created_at", "finished_at")
    ordering = ("-id",)
    show_change_link = True


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "type", "merchant", "livemode", "created_at")
    list_filter = (EventTypeFilter, "livemode")
    search_fields = ("=public_id",)
    list_select_related = ("merchant",)
    show_full_result_count = False
    fields = ("public_id", "type", "merchant", "livemode", "created_at", "shown_data")
    readonly_fields = fields

    @admin.display(description="data")
    def shown_data(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(json.loads(event.data), indent=2, ensure_ascii=False))

    inlines = [DeliveryInline]
    actions = ["resend"]

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("events.resend_event")

    @admin.action(description="Resend to every endpoint listening for it", permissions=["resend"])
    def resend(self, request, queryset):
        made = sum(len(services.event_resend(event=event)) for event in queryset[:100])
        self.message_user(request, f"{made} new delivery(ies) queued.", messages.SUCCESS)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    """Endpoints as merchants set them; the secret is never shown."""

    list_display = ("public_id", "url", "status", "disabled_reason", "merchant", "livemode", "created_at", "deleted_at")
    list_filter = ("status", "livemode")
    search_fields = ("=public_id", "url")
    list_select_related = ("merchant",)
    fields = (
        "public_id",
        "merchant",
        "livemode",
        "url",
        "description",
        "enabled_events",
        "status",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "deleted_at",
    )
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "event_type", "endpoint", "status", "attempts", "next_attempt_at", "created_at")
    list_filter = ("status",)
    search_fields = ("=public_id", "=event__public_id", "=endpoint__public_id")
    list_select_related = ("event", "endpoint")
    show_full_result_count = False
    fields = ("public_id", "event", "endpoint", "status", "attempts", "next_attempt_at", "created_at", "finished_at")
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]
    actions = ["resend"]

    @admin.display(description="event type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("events.resend_event")

    @admin.action(description="Resend the event to this endpoint (a new delivery)", permissions=["resend"])
    def resend(self, request, queryset):
        made = 0
        for delivery in queryset.select_related("event", "endpoint")[:100]:
            if delivery.endpoint.status == WebhookEndpoint.Status.ENABLED and delivery.endpoint.deleted_at is None:
                made += len(services.event_resend(event=delivery.event, endpoint=delivery.endpoint))
        self.message_user(request, f"{made} new delivery(ies) queued.", messages.SUCCESS)
