"""Fixtures for the ordering cycle and goods in (R-ORD-1, R-ORD-2): the MAR's resident and
frozen clock (tests/mar/conftest.py: "today" is Wednesday 25 Nov 2026, GMT), a home cycle whose
order date is today, and a supplying pharmacy with an email address."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from emar.models import User
from medications import services
from medications.models import OrderCycle, Pharmacy
from tests.mar.conftest import (  # noqa: F401
    DAY,
    clock,
    make_line,
    paracetamol,
    prn_protocol,
    qualified,
    resident_a,
)

# Cycles of 28 days from 4 Nov 2026: the next starts on 2 Dec, ordered 7 days before (25 Nov).
CYCLE_FIRST = dt.date(2026, 11, 4)
NEXT_CYCLE = dt.date(2026, 12, 2)


@pytest.fixture
def pharmacy(home_a):
    account = User.objects.create_user(username="pharmacy_boots", password=None)
    p = Pharmacy.objects.create(
        name="Boots, High Street", ods_code="FA123", email="orders@boots.test", account=account
    )
    p.homes.add(home_a)
    return p


@pytest.fixture
def cycle(home_a, pharmacy):
    return OrderCycle.objects.create(
        home=home_a, start_date=CYCLE_FIRST, lead_days=7, pharmacy=pharmacy
    )


def receive(line, by, quantity, **kw):
    kw.setdefault("pharmacy", "Boots, High Street")
    return services.stock_receive(line=line, by=by, quantity=Decimal(quantity), **kw)
