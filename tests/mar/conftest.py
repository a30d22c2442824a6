"""Fixtures for the MAR: a resident at home A with live lines (entered and checked through the
services, three days before "today"), staff who pass the training gate, and a frozen clock.

"Today" is Wednesday 25 Nov 2026 (GMT) unless a test moves the clock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from emar.models import NonAdministrationCode
from medications import services
from medications.models import ScheduledDose
from tests.medications.factories import line, times
from tests.residents.factories import resident
from tests.training.factories import qualify

DAY = dt.date(2026, 11, 25)
ONE = Decimal(1)


def at_local(home, day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=home.tz)


def key() -> uuid.UUID:
    return uuid.uuid4()


def code(home, letter: str) -> NonAdministrationCode:
    return NonAdministrationCode.objects.get(home=home, code=letter)


@pytest.fixture
def clock(time_machine, home_a):
    """Move the frozen clock to a local time on DAY: clock("08:05")."""

    def move(hhmm: str, day: dt.date = DAY) -> dt.datetime:
        when = at_local(home_a, day, hhmm)
        time_machine.move_to(when, tick=False)
        return when

    move("10:00", DAY - dt.timedelta(days=3))
    return move


@pytest.fixture
def resident_a(unit_a, senior_a, clock):
    return resident(unit_a, senior_a, full_name="Edith Clarke", room="12")


@pytest.fixture
def qualified(home_a, carer_a, senior_a, senior2_a, manager_a):
    """Everyone at home A may give every kind of medicine and witness CDs."""
    for person in (carer_a, senior_a, senior2_a, manager_a):
        qualify(person, home_a)


@pytest.fixture
def make_line(resident_a, senior_a, senior2_a, clock):
    """A live line, entered and checked three days before DAY."""

    def make(name: str = "Paracetamol 500mg tablets", schedule=None, **kw):
        return line(
            resident_a,
            senior_a,
            checker=senior2_a,
            name=name,
            schedule=schedule or (None if kw.get("prn") else times("08:00", "20:00")),
            **kw,
        )

    return make


@pytest.fixture
def paracetamol(make_line):
    return make_line()


def dose_at(line, hhmm: str, day: dt.date = DAY) -> ScheduledDose:
    services.doses_sync(home=line.home, start=day, end=day)
    return ScheduledDose.objects.get(line=line, due_at=at_local(line.home, day, hhmm))


def prn_protocol(line, by, *, interval: int = 240, max_24h: int = 4):
    return services.prn_protocol_write(
        line=line,
        by=by,
        indication="Pain",
        dose_guidance="1 to 2 tablets; 1 if mild",
        min_interval_minutes=interval,
        max_doses_24h=max_24h,
        signs="Grimacing, guarding",
        can_ask="yes",
        alternatives="Reposition, warm drink",
        contact_prescriber="If needed on 3 days running",
        review_date=DAY + dt.timedelta(days=90),
    )
