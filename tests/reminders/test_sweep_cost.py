"""The sweep's cost grows with the doses due now, not with the number of homes, residents or
history (SPEC §11): the same number of queries at two sizes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from emar.models import Notification, Role
from medications.reminders import dose_reminders_sweep
from tests.factories import HomeFactory, UnitFactory, staff
from tests.mar.conftest import at_local
from tests.residents.factories import resident

from .conftest import DAY, live_line, on_shift, sync


def _home_with(provider, n_residents: int, tag: str):
    """A home with one unit: each resident has a 06:00 and 08:00 line (one window closing, one
    opening at 07:00) and a time-sensitive 07:10 line; a carer, a senior and a manager."""
    home = HomeFactory(provider=provider, name=f"Home {tag}")
    unit = UnitFactory(home=home, name="Oak")
    senior = staff(home, Role.SENIOR, username=f"senior_{tag}")
    checker = staff(home, Role.SENIOR, username=f"checker_{tag}")
    staff(home, Role.MANAGER, username=f"manager_{tag}")
    carer = staff(home, Role.CARER, username=f"carer_{tag}")
    for _ in range(n_residents):
        person = resident(unit, senior)
        live_line(home, person, senior, checker, "06:00", "08:00")
        live_line(home, person, senior, checker, "07:10", time_sensitive=True)
    sync(home)
    on_shift(carer, home, unit)
    on_shift(senior, home, None)
    return home


def _sweep_queries(home) -> tuple[int, int, object]:
    """Reads and inserts of one sweep. Inserts are batched by the database's parameter limit
    (SQLite: 999 per statement), so they follow the number of new notifications."""
    with CaptureQueriesContext(connection) as ctx:
        result = dose_reminders_sweep(now=at_local(home, DAY, "07:01"))
    inserts = sum(q["sql"].startswith("INSERT") for q in ctx.captured_queries)
    return len(ctx.captured_queries) - inserts, inserts, result


@pytest.mark.parametrize("emails", [False, True])
def test_the_sweep_makes_the_same_few_queries_for_3_or_30_residents(provider_a, emails):
    small = _home_with(provider_a, 3, "s")
    small_reads, _, small_result = _sweep_queries(small)
    Notification.objects.all().delete()

    for tag in ("m1", "m2", "m3"):
        _home_with(provider_a, 9, tag)  # 3 + 27 = 30 residents in four homes
    if emails:
        from emar.models import User

        User.objects.update(email_notifications=True)
    big_reads, big_inserts, big_result = _sweep_queries(small)

    assert small_result.doses == 3 * 3
    assert big_result.doses == 30 * 3
    # A carer and a senior on shift per home; time-sensitive doses have their own reminder.
    assert (small_result.round_open, big_result.round_open) == (2, 8)
    assert big_result.time_sensitive == 30 * 2
    assert big_result.missed == 30 * 2  # senior + manager
    new = big_result.round_open + big_result.time_sensitive + big_result.missed
    # Savepoint and release, doses, their outcomes, roles, shifts, notifications already sent.
    assert small_reads <= 7
    # One more read to find the emails to send, whatever the size.
    assert big_reads == small_reads + (1 if emails else 0)
    assert big_inserts <= 1 + new * 12 // 999
