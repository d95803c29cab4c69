"""Event and webhook writes: recording an event with the change it describes, webhook endpoints, resends.

An event is written in the transaction (or write batch, core.db) of its change, and so is the task that
fans it out to the merchant's endpoints: a rolled-back change leaves neither, a committed one has both.
The fan-out task is only enqueued when the merchant has an endpoint listening for the type, decided by
the database when the batch runs, so a request pays no extra round trip for it.
"""

import base64
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from core import crypto, db
from core.errors import InvalidParameters
from core.ids import sortable_uuid
from core.scope import Scope
from events import tasks, urls_policy
from events.models import Delivery, Event, WebhookEndpoint
from events.types import ALL_EVENTS, EVENT_TYPES

# The merchant has an enabled endpoint in this mode listening for the type (index endpoint_scope_page).
LISTENING = """EXISTS (
    SELECT 1 FROM events_webhookendpoint
     WHERE merchant_id = %s AND livemode = %s AND deleted_at IS NULL AND status = 'enabled'
       AND enabled_events && ARRAY[%s, '*']::varchar[])"""


def event_record(
    *,
    scope: Scope,
    type: str,
    obj: dict[str, Any],
    previous: dict[str, Any] | None = None,
    only_if: tuple[str, tuple] | None = None,
) -> Event:
    """Record that `obj` (the resource as the API shows it now) was created or changed; `previous` holds
    the old values of what changed. In the caller's transaction or write batch. `only_if` (SQL and its
    params): for a change the batch makes conditionally, the event is written only where it holds then."""
    event = _event(scope, type, obj, previous)
    if only_if is None:
        task = tasks.fan_out
        row = (event.public_id, scope.merchant_id, scope.livemode, type, event.data, event.created_at)
        db.execute(RECORD, (*row, str(sortable_uuid()), task.priority, task.module_path, task.queue_name, task.backend))
    else:
        db.insert_where(event, *only_if)
        _enqueue_fan_out(scope, type, [event.public_id], only_if)
    return event


def events_record(*, scope: Scope, type: str, changes: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Many events of one type and scope at once (a worker's batch): one INSERT, one fan-out task."""
    events = [_event(scope, type, obj, previous) for obj, previous in changes]
    if events:
        Event.objects.bulk_create(events)
        _enqueue_fan_out(scope, type, [event.public_id for event in events])


def _event(scope: Scope, type: str, obj: dict[str, Any], previous: dict[str, Any] | None) -> Event:
    return Event(
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        type=type,
        data=orjson.dumps({"object": obj, "previousAttributes": previous or {}}).decode(),
        created_at=timezone.now(),
    )


# The fan-out task's row, as django-tasks-db's enqueue() writes it (tests run it through the engine's own
# worker), as plain SQL: on the API's busiest path, building a model instance and preparing its fifteen
# fields cost more than PostgreSQL takes to insert it. Due now (run_after), like enqueue_now; a time-ordered
# id, so the engine's primary key grows at its end.
FAN_OUT_ROW = """
INSERT INTO django_tasks_database_dbtaskresult
       (id, status, enqueued_at, args_kwargs, priority, task_path, worker_ids, queue_name, backend_name,
        run_after, exception_class_path, traceback)
SELECT %s::uuid, 'READY', now(), jsonb_build_object('args', jsonb_build_array(%s::jsonb), 'kwargs',
       '{}'::jsonb), %s, %s, '[]'::jsonb, %s, %s, now(), '', ''
 WHERE """


# One event and, when an endpoint listens, its fan-out task: the same rows as _event and FAN_OUT_ROW + LISTENING,
# written by a PL/pgSQL function (installed by migration 0003) because its statements' plans are cached for the
# session: on POST /payouts, parsing and planning the two statements cost PostgreSQL more than running them.
RECORD = "SELECT events_record(%s, %s, %s, %s, %s, %s, %s::uuid, %s, %s, %s, %s)"

INSTALL = """
CREATE OR REPLACE FUNCTION events_record(
    p_public_id text, p_merchant_id bigint, p_livemode boolean, p_type text, p_data text, p_created_at timestamptz,
    p_task_id uuid, p_priority integer, p_task_path text, p_queue_name text, p_backend_name text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events_event (public_id, merchant_id, livemode, type, data, fanned_out, created_at)
    VALUES (p_public_id, p_merchant_id, p_livemode, p_type, p_data, FALSE, p_created_at);
    IF EXISTS (SELECT 1 FROM events_webhookendpoint
                WHERE merchant_id = p_merchant_id AND livemode = p_livemode AND deleted_at IS NULL
                  AND status = 'enabled' AND enabled_events && ARRAY[p_type, '*']::varchar[]) THEN
        INSERT INTO django_tasks_database_dbtaskresult
               (id, status, enqueued_at, args_kwargs, priority, task_path, worker_ids, queue_name, backend_name,
                run_after, exception_class_path, traceback)
        VALUES (p_task_id, 'READY', now(),
                jsonb_build_object('args', jsonb_build_array(jsonb_build_array(p_public_id)), 'kwargs', '{}'::jsonb),
                p_priority, p_task_path, '[]'::jsonb, p_queue_name, p_backend_name, now(), '', '');
    END IF;
END
$$;
"""
UNINSTALL = """DROP FUNCTION IF EXISTS
    events_record(text, bigint, boolean, text, text, timestamptz, uuid, integer, text, text, text);"""


def _enqueue_fan_out(scope: Scope, type: str, event_ids: list[str], only_if: tuple[str, tuple] | None = None) -> None:
    task = tasks.fan_out
    condition, params = LISTENING, (scope.merchant_id, scope.livemode, type)
    if only_if is not None:
        condition, params = f"{condition} AND {only_if[0]}", params + tuple(only_if[1])
    row = (str(sortable_uuid()), orjson.dumps(event_ids).decode(), task.priority, task.module_path, task.queue_name)
    row += (task.backend,)
    db.execute(FAN_OUT_ROW + condition, row + params)


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """previousAttributes: the old value of every field that changed."""
    return {name: value for name, value in before.items() if after.get(name) != value}


# Webhook endpoints


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes, base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _enabled_events(value: list[str]) -> list[str]:
    unknown = [name for name in value if name != ALL_EVENTS and name not in EVENT_TYPES]
    if unknown:
        raise InvalidParameters.single(
            "enabledEvents", "event_type_unknown", f"Unknown event type: {unknown[0][:64]!r}. See GET /events types."
        )
    if not value:
        raise InvalidParameters.single("enabledEvents", "parameter_invalid", 'List at least one type, or ["*"].')
    return sorted(set(value))


def endpoint_create(
    *, scope: Scope, url: str, enabled_events: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown this once)."""
    urls_policy.check_endpoint_url(url, livemode=scope.livemode)
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        merchant_id=scope.merchant_id,
        livemode=scope.livemode,
        url=url,
        enabled_events=_enabled_events(enabled_events),
        description=description,
        secret_ciphertext=crypto.encrypt(secret),
    )
    return endpoint, secret


UNSET: Any = object()


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str = UNSET,
    enabled_events: list[str] = UNSET,
    description: str = UNSET,
    status: str = UNSET,
) -> WebhookEndpoint:
    if url is not UNSET:  # before the lock: it resolves the host
        urls_policy.check_endpoint_url(url, livemode=endpoint.livemode)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if url is not UNSET:
        endpoint.url = url
    if enabled_events is not UNSET:
        endpoint.enabled_events = _enabled_events(enabled_events)
    if description is not UNSET:
        endpoint.description = description
    if status is not UNSET and status != endpoint.status:
        endpoint.status = status
        enabled = status == WebhookEndpoint.Status.ENABLED
        endpoint.disabled_reason = "" if enabled else "merchant"
        endpoint.disabled_at = None if enabled else timezone.now()
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Gone from the API; kept (with its deliveries) for the back-office. Pending deliveries stop."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(deleted_at=timezone.now())
    endpoint.deleted_at = timezone.now()


@transaction.atomic
def endpoint_roll_secret(*, endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing beside it for WEBHOOK_SECRET_GRACE_SECONDS."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = new_secret()
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(seconds=settings.WEBHOOK_SECRET_GRACE_SECONDS)
    endpoint.secret_ciphertext = crypto.encrypt(secret)
    endpoint.save()
    return endpoint, secret


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one in its grace period."""
    found = [crypto.decrypt(endpoint.secret_ciphertext)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_ciphertext and expires is not None and expires > timezone.now():
        found.append(crypto.decrypt(endpoint.previous_secret_ciphertext))
    return found


# Deliveries


def endpoints_listening(event: Event) -> list[WebhookEndpoint]:
    return list(
        WebhookEndpoint.objects.filter(
            merchant_id=event.merchant_id,
            livemode=event.livemode,
            deleted_at__isnull=True,
            status=WebhookEndpoint.Status.ENABLED,
            enabled_events__overlap=[event.type, ALL_EVENTS],
        )
    )


@transaction.atomic
def deliveries_create(*, event: Event, endpoints: list[WebhookEndpoint]) -> list[Delivery]:
    """One delivery of the event to each endpoint. Its first attempt is the fan-out task's to make
    (events.delivering.first_attempts)."""
    return Delivery.objects.bulk_create(
        [Delivery(event=event, endpoint=endpoint, next_attempt_at=timezone.now()) for endpoint in endpoints]
    )


def deliveries_fan_out(*, event_ids: list[str]) -> int:
    """The fan-out task's work: a delivery per listening endpoint for each event not yet fanned out (a
    fan-out task run again makes nothing twice); how many it made. One bulk INSERT for all of them, and
    one endpoint query per merchant, mode and type."""
    with transaction.atomic():
        # NOWAIT: a repeat of a fan-out still running fails at once (a lock error, requeued later by
        # tasks_recover) instead of skipping its events and ending as if it had made their deliveries.
        events = list(
            Event.objects.select_for_update(nowait=True)
            .filter(public_id__in=event_ids, fanned_out=False)
            .order_by("id")
        )
        listening: dict[tuple, list[WebhookEndpoint]] = {}
        deliveries = []
        for event in events:
            key = (event.merchant_id, event.livemode, event.type)
            if key not in listening:
                listening[key] = endpoints_listening(event)
            deliveries += [Delivery(event=event, endpoint=endpoint) for endpoint in listening[key]]
        now = timezone.now()
        for delivery in deliveries:
            delivery.next_attempt_at = now
        Delivery.objects.bulk_create(deliveries)
        Event.objects.filter(pk__in=[event.pk for event in events]).update(fanned_out=True)
    return len(deliveries)


FAN_OUT_TASK = "events.tasks.fan_out"


def fan_out_tasks_take(*, limit: int) -> dict:
    """Up to `limit` fan-out tasks waiting in the queue, claimed as the task worker claims one (running,
    with its start time: tasks_recover puts them back if this worker dies), for a fan-out task to do their
    work with its own: events made one request at a time are fanned out and delivered in batches. Their
    ids and event ids."""
    now = timezone.now()
    with transaction.atomic():
        waiting = dict(
            DBTaskResult.objects.select_for_update(skip_locked=True)
            .filter(Q(run_after__lte=now) | Q(run_after=get_date_max()), status="READY", task_path=FAN_OUT_TASK)
            .order_by("run_after")
            .values_list("id", "args_kwargs")[:limit]
        )
        DBTaskResult.objects.filter(pk__in=waiting).update(status="RUNNING", started_at=now)
    return {task_id: args["args"][0] for task_id, args in waiting.items()}


def fan_out_tasks_done(*, task_ids) -> None:
    DBTaskResult.objects.filter(pk__in=task_ids, status="RUNNING").update(
        status="SUCCESSFUL", finished_at=timezone.now(), return_value="done by another fan-out task"
    )


def first_attempts_due(*, event_ids: list[str]) -> list[list[int]]:
    """The deliveries of these events whose first attempt is still to be made, oldest first, as
    [delivery id, endpoint id] pairs (what events.delivering.first_attempts takes)."""
    due = Delivery.objects.filter(event__public_id__in=event_ids, status=Delivery.Status.PENDING, attempts=0)
    return [list(pair) for pair in due.order_by("id").values_list("pk", "endpoint_id")]


def enqueue_now(task, *args) -> None:
    """Due now, in order with everything else due (the backend's default, no run_after, sorts last)."""
    task.using(run_after=timezone.now()).enqueue(*args)


@transaction.atomic
def event_resend(*, event: Event, endpoint: WebhookEndpoint | None = None) -> list[Delivery]:
    """Deliver the event again, as a new delivery: to one endpoint of the merchant's (enabled, whatever
    it listens to), or to every enabled endpoint listening for its type; a task makes their first
    attempts."""
    if endpoint is not None and endpoint.status != WebhookEndpoint.Status.ENABLED:
        raise InvalidParameters.single(
            "webhookEndpointId", "webhook_endpoint_disabled", "Enable the endpoint before resending to it."
        )
    deliveries = deliveries_create(event=event, endpoints=[endpoint] if endpoint else endpoints_listening(event))
    if deliveries:
        enqueue_now(tasks.first_attempts, [[delivery.pk, delivery.endpoint_id] for delivery in deliveries])
    return deliveries


def events_purge(*, older_than_days: int, batch_size: int = 5000) -> int:
    """Delete events (and their deliveries) older than the retention; never fewer than 30 days kept.
    Oldest first by primary key, a batch per transaction, until a batch reaches a newer event."""
    cutoff = timezone.now() - timedelta(days=max(older_than_days, 30))
    deleted = 0
    while True:
        with transaction.atomic():
            oldest = list(Event.objects.order_by("id").values_list("pk", "created_at")[:batch_size])
            pks = [pk for pk, created_at in oldest if created_at < cutoff]
            Delivery.objects.filter(event_id__in=pks).delete()
            Event.objects.filter(pk__in=pks).delete()
        deleted += len(pks)
        if len(pks) < batch_size:
            return deleted


MAX_RUNS = 20
# What a task failed of, when it should simply run again: the database was away (or a lock was busy).
TRANSIENT_FAILURES = ("django.db.utils.OperationalError", "django.db.utils.InterfaceError")


def tasks_recover(*, stale_after: timedelta, retry_after: timedelta = timedelta(seconds=30)) -> int:
    """Put back in the queue the background tasks a worker could not finish: running for longer than
    stale_after (its worker died: django-tasks-db leaves them running), or failed because the database was
    unavailable (run again after retry_after). Every task here may run twice (events.delivering); none
    is lost. Safe from any number of machines at once. How many it put back."""
    now = timezone.now()
    # Each run of a task adds its worker's id: one run too many times is left failed, for a person.
    runs = RawSQL("jsonb_array_length(worker_ids)", [])
    stale = DBTaskResult.objects.filter(status="RUNNING", started_at__lt=now - stale_after)
    failed = DBTaskResult.objects.alias(runs=runs).filter(
        status="FAILED",
        exception_class_path__in=TRANSIENT_FAILURES,
        finished_at__lt=now - retry_after,
        runs__lt=MAX_RUNS,
    )
    requeued = 0
    for tasks_left in (stale, failed):
        requeued += tasks_left.update(status="READY", run_after=now, started_at=None, finished_at=None)
    return requeued
