"""Fixtures for the ordering cycle (R-ORD-1, R-ORD-2): the MAR's resident, staff and frozen
clock (tests/mar/conftest.py; "today" is Wednesday 25 Nov 2026), a cycle whose next cycle
starts on 2 Dec 2026 with the order made 7 days before (so today is the order date), and the
home's supplying pharmacy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from medications import services
from tests.mar.conftest import DAY, clock, make_line, paracetamol, qualified, resident_a  # noqa: F401

NEXT_CYCLE = dt.date(2026, 12, 2)


@pytest.fixture
def pharmacy(home_a):
    p = services.pharmacy_create(
        name="Boots, High Street", homes=[home_a], by=None, ods_code="FA123"
    )
    p.order_email = "orders@boots.example"
    p.save(update_fields=["order_email"])
    return p


@pytest.fixture
def cycle(home_a, manager_a, pharmacy, clock):  # noqa: F811
    return services.order_cycle_set(
        home=home_a, by=manager_a, start=NEXT_CYCLE - dt.timedelta(days=28), order_days_before=7
    )


def receive(line, by, quantity, **kw):
    kw.setdefault("pharmacy", "Boots, High Street")
    return services.stock_receive(line=line, by=by, quantity=Decimal(quantity), **kw)


def prepare(home, hhmm: str = "10:00", day: dt.date = DAY):
    from tests.mar.conftest import at_local

    return services.order_prepare(home=home, now=at_local(home, day, hhmm))
