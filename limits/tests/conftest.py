import pytest
from django.contrib.auth.models import Group, Permission

from compliance.roles import ADMIN, ANALYST, sync_roles
from limits.services import limits_set
from testsupport.compliance import staff_member


@pytest.fixture(autouse=True)
def roles(db):
    """Tests that flush the database (transaction=True) remove the migration's groups: set them up again."""
    sync_roles(Group, Permission)


def staff_user(username: str, role: str):
    return staff_member(username, role)


@pytest.fixture
def admin_ana(db):
    return staff_user("ana", ADMIN)


@pytest.fixture
def admin_bruno(db):
    return staff_user("bruno", ADMIN)


@pytest.fixture
def analyst(db):
    return staff_user("carla", ANALYST)


@pytest.fixture
def set_limits(admin_ana):
    """Sets limits as a compliance admin would, for limits that apply at once (stricter than before)."""

    def set_(merchant, livemode: bool = False, **values):
        result = limits_set(merchant=merchant, livemode=livemode, values=values, by=admin_ana)
        assert result.pending is None, "a raise needs approval: not for this fixture"
        return result.limits

    return set_
