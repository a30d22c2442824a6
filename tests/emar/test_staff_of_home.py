"""R-ORG-2, R-ORG-4: "the staff of this home with roles X" is one selector: a role in force
(membership active, not expired) of an active account."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from emar.models import Role
from emar.selectors import on_shift, seniors_on_shift, staff_memberships_of, staff_of_home
from tests.factories import staff


def test_only_roles_in_force_of_active_accounts(home_a, home_b, senior_a, carer_a):
    deactivated = staff(home_a, Role.SENIOR, username="off_a", is_active=False)
    ended = staff(home_a, Role.SENIOR, username="left_a")
    ended.memberships.update(active=False)
    expired = staff(home_a, Role.INSPECTOR, username="was_inspector")
    expired.memberships.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    staff(home_b, Role.SENIOR, username="senior_b")
    inspector = staff(home_a, Role.INSPECTOR, username="inspector_now")

    assert list(staff_of_home(home_a, [Role.SENIOR])) == [senior_a]
    assert set(staff_of_home(home_a, [Role.SENIOR, Role.CARER, Role.INSPECTOR])) == {
        senior_a,
        carer_a,
        inspector,
    }
    assert deactivated not in staff_of_home(home_a, [Role.SENIOR])
    assert ended not in staff_of_home(home_a, [Role.SENIOR])
    # The same rule by home ids, for sweeps over many homes.
    by_ids = staff_memberships_of([home_a.pk, home_b.pk], [Role.SENIOR])
    assert {m.user.username for m in by_ids} == {"senior_a", "senior_b"}


def test_seniors_fall_back_to_every_senior_in_force(home_a, senior_a):
    off = staff(home_a, Role.SENIOR, username="off_a", is_active=False)
    assert seniors_on_shift(home_a) == [senior_a]
    assert off not in on_shift(home_a)
