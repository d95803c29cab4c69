import pytest
from django.contrib.auth.models import Group, Permission

from compliance.roles import sync_roles


@pytest.fixture(autouse=True)
def roles(db):
    """The suite runs without migrations (pytest.ini): set the roles up as the data migration does."""
    sync_roles(Group, Permission)
