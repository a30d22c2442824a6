"""Fixtures for stock and the CD register: the MAR's resident, lines, staff and frozen clock
(tests/mar/conftest.py; "today" is Wednesday 25 Nov 2026), plus a register CD line."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.mar.conftest import clock, make_line, paracetamol, qualified, resident_a  # noqa: F401


@pytest.fixture
def oxycodone(make_line):  # noqa: F811
    """A register CD (Schedule 2), one capsule at 08:00 and 20:00."""
    return make_line("Oxycodone 10mg capsules", dose_unit="capsule")


def receive(line, by, quantity, **kw):
    from medications import services

    kw.setdefault("pharmacy", "Boots, High Street")
    return services.stock_receive(line=line, by=by, quantity=Decimal(quantity), **kw)
