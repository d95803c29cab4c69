import pytest
from django.contrib.auth.models import Group, Permission

from compliance.roles import sync_roles


@pytest.fixture(autouse=True)
def roles(db):
    """Tests that flush the database (transaction=True) remove the migration's groups: set them up again."""
    sync_roles(Group, Permission)
