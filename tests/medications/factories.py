"""Prescription lines for tests, entered and checked through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from emar.models import User
from medications import services
from medications.models import Medicine, PrescriptionLine
from medications.services import ScheduleInput
from residents.models import Resident


def medicine(name: str) -> Medicine:
    """A product of the starter catalogue (loaded by migration)."""
    return Medicine.objects.get(name=name)


def times(*hhmm: str, **kw) -> ScheduleInput:
    return ScheduleInput(slots=[(dt.time.fromisoformat(t), None, "") for t in hhmm], **kw)


def line(
    resident: Resident,
    by: User,
    *,
    name: str = "Paracetamol 500mg tablets",
    checker: User | None = None,
    schedule: ScheduleInput | None = None,
    prn: bool = False,
    start_date: dt.date | None = None,
    dose: Decimal = Decimal(1),
    **kw,
) -> PrescriptionLine:
    """A line entered by `by`; checked (so live) when a `checker` is given. A PRN line gets
    the prescriber's limits (R-RX-6): 4 hours apart, 4 in 24 hours unless given."""
    if prn:
        kw.setdefault("prn_min_interval_minutes", 240)
        kw.setdefault("prn_max_doses_24h", 4)
    entered = services.line_create(
        resident=resident,
        medicine=medicine(name),
        by=by,
        dose=dose,
        dose_unit=kw.pop("dose_unit", "tablet"),
        route=kw.pop("route", "oral"),
        prescriber=kw.pop("prescriber", "Dr Test"),
        source=kw.pop("source", "gp"),
        start_date=start_date or resident.home.local_today() - dt.timedelta(days=7),
        schedule=None if prn else (schedule or times("08:00", "20:00")),
        is_prn=prn,
        **kw,
    )
    if checker is not None:
        entered = services.line_check(line=entered, by=checker)
    return entered
