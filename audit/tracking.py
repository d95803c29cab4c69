"""Which models the audit trail tracks, and how (see audit/context.py for who is recorded)."""

from collections.abc import Sequence

import pghistory

# Labels of the trail's events, as the back-office shows them.
CREATE, UPDATE, DELETE, REVEAL = "create", "update", "delete", "reveal"


def tracked(model_name: str, *, exclude: Sequence[str] = ()):
    """Record every insert, update (of a tracked field) and delete of the model, in `model_name`'s table.

    `exclude` names the columns the trail must never copy (ciphertexts, fingerprints, key hashes): the
    snapshot keeps the last four digits only. Other events (a reveal) are written by audit.services.
    """
    return pghistory.track(
        pghistory.InsertEvent(CREATE),
        pghistory.UpdateEvent(UPDATE),
        pghistory.DeleteEvent(DELETE),
        exclude=list(exclude),
        model_name=model_name,
        meta={"verbose_name_plural": _words(model_name)},
        # The object may be deleted; its history stays (no database constraint, nothing cascades).
        obj_field=pghistory.ObjForeignKey(related_name="audit_events", db_index=True),
    )


def _words(model_name: str) -> str:
    """ "BankAccountHistory" -> "bank account history" (the admin's plural would be "historys")."""
    return "".join(f" {c.lower()}" if c.isupper() else c for c in model_name).strip().replace("api ", "API ")
