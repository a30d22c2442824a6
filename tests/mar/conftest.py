"""Fixtures for the MAR: a resident at home A with live lines (entered and checked through the
services), and staff who pass the training gate."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.medications.factories import line, times
from tests.residents.factories import resident
from tests.training.factories import qualify


@pytest.fixture
def resident_a(unit_a, senior_a):
    return resident(unit_a, senior_a, full_name="Edith Clarke", room="12")


@pytest.fixture
def qualified(home_a, carer_a, senior_a, senior2_a, manager_a):
    """Everyone at home A may give every kind of medicine and witness CDs."""
    for person in (carer_a, senior_a, senior2_a, manager_a):
        qualify(person, home_a)


@pytest.fixture
def paracetamol(resident_a, senior_a, senior2_a):
    """Paracetamol 1 tablet at 08:00 and 20:00, live for a week."""
    return line(resident_a, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))


def at_local(home, day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=home.tz)


def today(home) -> dt.date:
    return timezone.now().astimezone(home.tz).date()


ONE = Decimal(1)
