"""Writing to the audit trail what no table change records (a full account number shown to staff)."""

from typing import Any

from django.db import models, transaction

from audit.selectors import snapshot_fields


@transaction.atomic
def audit_event_record(obj: models.Model, *, label: str, actor: str, **details: Any) -> models.Model:
    """An event in obj's history (its current snapshot), with the actor named explicitly."""
    history = obj.audit_events.model
    snapshot = {name: getattr(obj, name) for name in snapshot_fields(history)}
    return history.objects.create(pgh_label=label, pgh_obj=obj, pgh_context={"actor": actor, **details}, **snapshot)
