"""Residents for tests, admitted through the service so they get their admission move."""

from __future__ import annotations

import datetime as dt
import itertools

import nhs_number

from emar.models import Unit, User
from residents import services
from residents.models import AllergyStatus, Resident

_serial = itertools.count(1)


def valid_nhs_number(n: int | None = None) -> str:
    """A test NHS number in the 999 range with a correct check digit."""
    while True:
        n = next(_serial) if n is None else n
        stem = f"999{n:06d}"
        check = nhs_number.calculate_checksum(stem)
        if check is not None and check != 10:
            return f"{stem}{check}"
        n = None


def resident(
    unit: Unit,
    by: User,
    *,
    allergy_status: str = AllergyStatus.NONE_KNOWN,
    allergies: tuple[str, ...] = (),
    **fields,
) -> Resident:
    n = next(_serial)
    defaults = {
        "full_name": f"Test Resident {n}",
        "preferred_name": "",
        "date_of_birth": dt.date(1940, 1, 1),
        "nhs_number": valid_nhs_number(),
        "room": str(n),
        "admitted_on": dt.date(2026, 1, 1),
    }
    defaults.update(fields)
    status = AllergyStatus.UNKNOWN if allergies else allergy_status
    person = services.resident_admit(
        home=unit.home, unit=unit, by=by, allergy_status=status, **defaults
    )
    for substance in allergies:
        services.allergy_add(
            resident=person, by=by, substance=substance, severity="severe", reason="GP record"
        )
    person.refresh_from_db()
    return person
