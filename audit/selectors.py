"""Reading the audit trail: events with the changes each made, for object pages and the trail's lists."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import OuterRef, Subquery

from audit.tracking import CREATE
from core.search import Kind, Term


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Entry:
    at: datetime
    label: str
    subject: str  # e.g. "customer cust_…"
    actor: str
    changes: list[Change]


def snapshot_fields(history: type[models.Model]) -> list[str]:
    """The tracked model's columns the event copies (never a ciphertext, fingerprint or key hash)."""
    return [field.attname for field in history._meta.concrete_fields if not field.name.startswith("pgh_")]


def actor_of(event: models.Model) -> str:
    return (event.pgh_context or {}).get("actor", "unknown")


def changes_between(event: models.Model, previous: models.Model | None) -> list[Change]:
    """What the event changed: every set field for a creation, the differing ones otherwise."""
    out = []
    for name in snapshot_fields(type(event)):
        after = getattr(event, name)
        if previous is None:
            if event.pgh_label == CREATE and after not in (None, "", {}, []):
                out.append(Change(name, None, after))
            continue
        before = getattr(previous, name)
        if before != after:
            out.append(Change(name, before, after))
    return out


def with_previous(events: Iterable[models.Model]) -> list[tuple[models.Model, models.Model | None]]:
    """Each event with the one before it for the same object: two queries, whatever the number of events."""
    events = list(events)
    if not events:
        return []
    history = type(events[0])
    previous_ids = {event.pk: getattr(event, "previous_pgh_id", None) for event in events}
    previous = history.objects.in_bulk([pk for pk in previous_ids.values() if pk is not None])
    return [(event, previous.get(previous_ids[event.pk])) for event in events]


def annotate_previous(queryset: models.QuerySet) -> models.QuerySet:
    """Adds previous_pgh_id: the object's event just before this one (read with pgh_obj's index)."""
    earlier = queryset.model.objects.filter(pgh_obj_id=OuterRef("pgh_obj_id"), pgh_id__lt=OuterRef("pgh_id"))
    return queryset.annotate(previous_pgh_id=Subquery(earlier.order_by("-pgh_id").values("pgh_id")[:1]))


def entries(queryset: models.QuerySet, subject: str) -> list[Entry]:
    """The events of a queryset of one history model, oldest first, with what each changed."""
    events = annotate_previous(queryset).order_by("pgh_id")
    return [
        Entry(
            at=event.pgh_created_at,
            label=event.pgh_label,
            subject=f"{subject} {getattr(event, 'public_id', event.pgh_obj_id)}",
            actor=actor_of(event),
            changes=changes_between(event, previous),
        )
        for event, previous in with_previous(events)
    ]


def history(*parts: tuple[models.QuerySet, str]) -> list[Entry]:
    """Several objects' events (e.g. a customer's and its bank accounts'), merged by time, newest first."""
    merged = [entry for queryset, subject in parts for entry in entries(queryset, subject)]
    return sorted(merged, key=lambda entry: entry.at, reverse=True)


def history_search(queryset: models.QuerySet, term: Term) -> models.QuerySet | None:
    """The events of the object `term` names by its public id (cust_…, ba_…, po_…): found by the tracked
    model's unique id index, its events by the history's object index. Or the events of an actor, by the
    start of its name (staff:ana, api_key:sk_test): no index (one would cost every audited write), so the
    list reads back from the newest event until a page is full, under the back-office's statement timeout."""
    if term.kind is Kind.ACTOR:
        return queryset.filter(pgh_context__actor__startswith=term.value)
    tracked = queryset.model.pgh_tracked_model
    if term.kind is not Kind.PUBLIC_ID or "public_id" not in {field.name for field in tracked._meta.fields}:
        return None
    return queryset.filter(pgh_obj_id__in=tracked._default_manager.filter(public_id=term.value).values("pk"))
