"""An API request caught by a database restart answers 503 with Retry-After in the one error format, and
the same request sent again (same Idempotency-Key) succeeds once."""

import pytest
from django.db import close_old_connections, connection, connections

from customers.tests.factories import make_cbu
from payouts.models import Payout
from testsupport.api import ApiClient, make_merchant

UNAVAILABLE = {
    "error": {
        "type": "api_error",
        "code": "service_unavailable",
        "message": "The service is briefly unavailable. Retry the request, with the same Idempotency-Key.",
        "param": None,
        "errors": [],
    }
}


def kill_this_session() -> None:
    """Terminate the request's own database session from another one, as a restart would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("request_kind", ["post", "get"])
def test_a_request_caught_by_a_restart_answers_503_and_a_retry_succeeds(request_kind):
    api = ApiClient(make_merchant("Restart").test)
    body = {"amount": "5.00", "currency": "ARS", "destinationCbu": make_cbu()}
    headers = {"Idempotency-Key": "restart-1"}
    send = {
        "post": lambda: api.post("/payouts", body, headers=headers),
        "get": lambda: api.get("/customers"),  # an atomic request: fails at its BEGIN
    }[request_kind]
    assert send().status_code in (200, 201)

    kill_this_session()
    response = send()

    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert response["Retry-After"] == "1"
    close_old_connections()  # what the end of every request does in production (the test client skips it)
    retried = send()
    assert retried.status_code in (200, 201), retried.content
    if request_kind == "post":
        assert retried["Idempotent-Replayed"] == "true"
        assert Payout.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_outage_outside_the_api_views_is_a_503_too(staff):
    """The back-office (here its session, loaded by a middleware) and anything else past DRF: handler500."""
    assert staff.get("/admin/customers/customer/").status_code == 200
    staff.raise_request_exception = False  # answer as production would, instead of re-raising here
    kill_this_session()
    response = staff.get("/admin/customers/customer/")
    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert response["Retry-After"] == "1"
    close_old_connections()  # as the end of the request does in production


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("request_kind", ["post", "post_without_key", "get"])
def test_a_connection_that_died_while_idle_answers_503_once_and_is_replaced(request_kind):
    """No health check before each request (conn_health_checks off: a round trip less per request). The
    first request on a persistent connection that PostgreSQL dropped while it sat idle (a restart between
    two requests) fails at its first query: a 503 to retry, never a 500; the end of that request closes the
    connection, and the next request opens a new one."""
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is False
    api = ApiClient(make_merchant("Idle").test)
    body = {"amount": "5.00", "currency": "ARS", "destinationCbu": make_cbu()}
    send = {
        "post": lambda: api.post("/payouts", body, headers={"Idempotency-Key": "idle-1"}),
        "post_without_key": lambda: api.post("/payouts", body),
        "get": lambda: api.get("/customers"),
    }[request_kind]
    assert send().status_code in (200, 201)
    close_old_connections()  # the end of that request (the test client skips the signals production sends)

    kill_this_session()  # while the connection sits idle between requests
    close_old_connections()  # the start of the next request: no health check, the connection is kept
    response = send()

    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert response["Retry-After"] == "1"
    close_old_connections()  # its end: the connection had an error and is unusable, so it is closed
    retried = send()
    assert retried.status_code in (200, 201), retried.content
    assert Payout.objects.count() == (1 if request_kind == "post" else 2 if request_kind == "post_without_key" else 0)
