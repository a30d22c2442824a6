"""Fixtures for audits: the demo home (its last month is the "demo month"), and small homes
with a month of MAR records written in bulk for query-count tests."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import time_machine

from audits.models import previous_month
from emar.models import NonAdministrationCode
from medications import services as medication_services
from medications.models import Administration, ScheduledDose
from tests.medications.factories import line, times
from tests.residents.factories import resident


@pytest.fixture
def demo(demo_db):
    """The shared demo (tests/conftest.py) and its signed month."""
    return demo_db, previous_month(demo_db.local_today())


def month_of_records(unit, by, checker, *, residents: int, month: dt.date) -> None:
    """`residents` residents each with a twice-daily line over `month`: given, one refusal,
    one gap and one late entry per resident."""
    home = unit.home
    refused = NonAdministrationCode.objects.get(home=home, code="R")
    before = dt.datetime.combine(month - dt.timedelta(days=2), dt.time(10), tzinfo=home.tz)
    with time_machine.travel(before, tick=False):  # entered and checked before the month
        for _ in range(residents):
            person = resident(unit, by, admitted_on=month - dt.timedelta(days=30))
            line(
                person,
                by,
                checker=checker,
                schedule=times("08:00", "20:00"),
                start_date=month,
            )
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    medication_services.doses_sync(home=home, start=month, end=end)
    records = []
    for i, dose in enumerate(ScheduledDose.objects.filter(home=home).order_by("pk")):
        if i % 11 == 5:
            continue  # a gap
        not_given = i % 13 == 3
        records.append(
            Administration(
                home=home,
                resident_id=dose.resident_id,
                line_id=dose.line_id,
                dose=dose,
                outcome="not_given" if not_given else "given",
                code=refused if not_given else None,
                quantity=None if not_given else Decimal(1),
                administered_at=dose.due_at,
                recorded_at=dose.due_at + dt.timedelta(hours=3 if i % 17 == 0 else 0),
                recorded_by=by,
                late=i % 17 == 0,
                late_reason="Busy round" if i % 17 == 0 else "",
                idempotency_key=uuid.uuid4(),
            )
        )
    Administration.objects.bulk_create(records)
