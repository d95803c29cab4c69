"""Fetching one object by its public id, the same way for every resource."""

from django.db.models import Model, QuerySet

from core.errors import ResourceMissing
from core.ids import is_public_id


def get_by_public_id(queryset: QuerySet, public_id: str, *, prefix: str, noun: str, param: str) -> Model:
    """The object, or 404. The id's shape is checked before any query sees it (a NUL byte would reach
    psycopg), and an id outside `queryset` (another merchant's, mode's, customer's) answers exactly like
    one that does not exist."""
    found = queryset.filter(public_id=public_id).first() if is_public_id(public_id, prefix) else None
    if found is None:
        raise ResourceMissing(f"No such {noun}: {public_id[:64]!r}.", param=param)
    return found
