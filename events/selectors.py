from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from core.filters import apply_filters, parse_list_query
from core.lookups import get_by_public_id
from core.pagination import Page, keyset_page, parse_page_request
from core.scope import Scope
from events.filters import DeliveryFilter, EndpointFilter, EventFilter
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from events.representations import DELIVERY_FIELDS, ENDPOINT_FIELDS, EVENT_FIELDS

ATTEMPT_FIELDS = ("delivery_id", "attempted_at", "status_code", "error", "duration_ms", "response_excerpt", "succeeded")


def events_in_scope(*, scope: Scope) -> QuerySet[Event]:
    return Event.objects.filter(merchant_id=scope.merchant_id, livemode=scope.livemode)


def event_get(*, scope: Scope, event_id: str) -> Event:
    return get_by_public_id(events_in_scope(scope=scope), event_id, prefix="evt", noun="event", param="eventId")


def _event_cursor(scope: Scope):
    def lookup(public_id: str) -> RawSQL:
        return RawSQL(
            "SELECT id FROM events_event WHERE public_id = %s AND merchant_id = %s AND livemode = %s",
            [public_id, scope.merchant_id, scope.livemode],
        )

    return lookup


def _endpoint_cursor(scope: Scope):
    def lookup(public_id: str) -> RawSQL:
        return RawSQL(
            "SELECT id FROM events_webhookendpoint WHERE public_id = %s AND merchant_id = %s AND livemode = %s",
            [public_id, scope.merchant_id, scope.livemode],
        )

    return lookup


def event_list(*, scope: Scope, params) -> Page:
    """The scope's events, newest first; filters type (one or several, comma-separated) and createdAt."""
    base = events_in_scope(scope=scope)
    filtered, page = parse_list_query(EventFilter, params, base, id_prefix="evt")
    return keyset_page(
        filtered,
        scope_queryset=base,
        cursor_pk=_event_cursor(scope),
        page=page,
        fields=EVENT_FIELDS,
        scope_values=(scope.merchant_id, scope.livemode),
    )


def endpoints_in_scope(*, scope: Scope) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant_id=scope.merchant_id, livemode=scope.livemode, deleted_at=None)


def endpoint_get(*, scope: Scope, endpoint_id: str, param: str = "webhookEndpointId") -> WebhookEndpoint:
    queryset = endpoints_in_scope(scope=scope)
    return get_by_public_id(queryset, endpoint_id, prefix="we", noun="webhook endpoint", param=param)


def endpoint_list(*, scope: Scope, params) -> Page:
    base = endpoints_in_scope(scope=scope)
    filtered, page = parse_list_query(EndpointFilter, params, base, id_prefix="we")
    return keyset_page(
        filtered,
        scope_queryset=base,
        cursor_pk=_endpoint_cursor(scope),
        page=page,
        fields=ENDPOINT_FIELDS,
    )


def delivery_list(*, endpoint: WebhookEndpoint, params) -> tuple[Page, dict[int, list[dict]]]:
    """A page of the endpoint's deliveries, newest first, and each one's attempts, oldest first."""
    base = Delivery.objects.filter(endpoint_id=endpoint.pk)
    apply_filters(DeliveryFilter, params, base)
    page_request = parse_page_request(params, id_prefix="whd")

    def cursor_pk(public_id: str) -> RawSQL:
        return RawSQL(
            "SELECT id FROM events_delivery WHERE public_id = %s AND endpoint_id = %s", [public_id, endpoint.pk]
        )

    page = keyset_page(
        base,
        scope_queryset=base,
        cursor_pk=cursor_pk,
        page=page_request,
        fields=DELIVERY_FIELDS,
        scope_columns=("endpoint_id",),
    )
    attempts: dict[int, list[dict]] = {row["pk"]: [] for row in page.rows}
    for attempt in DeliveryAttempt.objects.filter(delivery_id__in=attempts).order_by("id").values(*ATTEMPT_FIELDS):
        attempts[attempt["delivery_id"]].append(attempt)
    return page, attempts
