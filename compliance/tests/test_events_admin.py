"""The back-office's events, webhook endpoints and deliveries: what analysts see, and the resend action."""

from compliance.roles import ANALYST
from compliance.tests.test_verification import page, staff_client
from events.models import Delivery, Event, WebhookEndpoint


def test_an_analyst_sees_events_endpoints_and_deliveries_never_a_secret(api, create_customer):
    created = api.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "enabledEvents": ["*"]}).json()
    create_customer()
    analyst = staff_client("ana", ANALYST)
    event = Event.objects.get()
    delivery = Delivery.objects.create(event=event, endpoint=WebhookEndpoint.objects.get())
    assert event.public_id in page(analyst, "/admin/events/event/")
    assert "customer.created" in page(analyst, f"/admin/events/event/{event.pk}/change/")
    endpoints = page(analyst, "/admin/events/webhookendpoint/")
    assert created["webhookEndpointId"] in endpoints
    endpoint_page = page(analyst, f"/admin/events/webhookendpoint/{WebhookEndpoint.objects.get().pk}/change/")
    for shown in (endpoints, endpoint_page):
        assert created["secret"] not in shown and "whsec_" not in shown
    assert delivery.public_id in page(analyst, "/admin/events/delivery/")
    assert "attempted at" in page(analyst, f"/admin/events/delivery/{delivery.pk}/change/").lower()


def test_an_analyst_resends_an_event_as_a_new_delivery(api, create_customer):
    api.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "enabledEvents": ["*"]})
    create_customer()
    analyst = staff_client("ana", ANALYST)
    event = Event.objects.get()
    response = analyst.post("/admin/events/event/", {"action": "resend", "_selected_action": [event.pk]}, follow=True)
    assert response.status_code == 200
    assert "1 new delivery(ies) queued." in response.content.decode()
    assert Delivery.objects.filter(event=event).count() == 1


def test_staff_without_a_role_cannot_resend(api, create_customer):
    api.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "enabledEvents": ["*"]})
    create_customer()
    nobody = staff_client("nobody")
    event = Event.objects.get()
    response = nobody.post("/admin/events/event/", {"action": "resend", "_selected_action": [event.pk]})
    assert response.status_code == 403
    assert Delivery.objects.count() == 0
