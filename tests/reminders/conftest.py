"""Fixtures for reminders: home A's units Oak and Elm, residents with live lines, doses
materialised for one November day (GMT), and staff on shift."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import time_machine

from emar import services as emar_services
from emar.models import CareHome, Role, Unit, User
from medications import services
from medications.models import Administration, Outcome, PrescriptionLine, ScheduledDose
from tests.factories import UnitFactory, staff
from tests.mar.conftest import at_local
from tests.medications.factories import line, times
from tests.residents.factories import resident

DAY = dt.date(2026, 11, 25)  # GMT: local time = UTC


def live_line(
    home: CareHome, who, by: User, checker: User, *hhmm: str, day: dt.date = DAY, **kw
) -> PrescriptionLine:
    """A line entered and checked three days before `day`, so its doses exist on `day`."""
    with time_machine.travel(at_local(home, day - dt.timedelta(days=3), "10:00"), tick=False):
        return line(who, by, checker=checker, schedule=times(*hhmm), **kw)


def sync(home: CareHome, day: dt.date = DAY) -> None:
    with time_machine.travel(at_local(home, day - dt.timedelta(days=1), "12:00"), tick=False):
        services.doses_sync(home=home, start=day, end=day)


def on_shift(user: User, home: CareHome, unit: Unit | None) -> None:
    emar_services.shift_start(user=user, home=home, unit=unit)


def dose_of(line_: PrescriptionLine, hhmm: str, day: dt.date = DAY) -> ScheduledDose:
    return ScheduledDose.objects.get(
        line=line_, local_date=day, local_time=dt.time.fromisoformat(hhmm)
    )


def record(dose: ScheduledDose, by: User, *, given: bool = True, final: bool = True) -> None:
    """An outcome written directly (the recording service is tested elsewhere)."""
    at = dose.due_at
    Administration.objects.create(
        home=dose.home,
        resident=dose.resident,
        line=dose.line,
        dose=dose,
        outcome=Outcome.GIVEN if given else Outcome.NOT_GIVEN,
        code=None if given else dose.home.codes.get(code="S" if not final else "R"),
        quantity=Decimal(1) if given else None,
        administered_at=at,
        recorded_at=at,
        recorded_by=by,
        final=final,
        idempotency_key=uuid.uuid4(),
    )


@pytest.fixture
def unit_elm(home_a):
    return UnitFactory(home=home_a, name="Elm")


@pytest.fixture
def carer_elm(home_a):
    return staff(home_a, Role.CARER, username="carer_elm")


@pytest.fixture
def carer_off(home_a):
    return staff(home_a, Role.CARER, username="carer_off")


@pytest.fixture
def oak(home_a, unit_a, senior_a, senior2_a):
    """Two residents in Oak: Edith with paracetamol 08:00 and 20:00 and a 10:00 time-sensitive
    Parkinson's line, Fred with paracetamol 08:00."""
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    fred = resident(unit_a, senior_a, full_name="Fred Jones", room="14")
    lines = {
        "edith": live_line(home_a, edith, senior_a, senior2_a, "08:00", "20:00"),
        "edith_ts": live_line(
            home_a, edith, senior_a, senior2_a, "10:00", time_sensitive=True, tolerance_minutes=15
        ),
        "fred": live_line(home_a, fred, senior_a, senior2_a, "08:00"),
    }
    sync(home_a)
    return lines
