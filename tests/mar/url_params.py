"""URL kwargs of the MAR chart's pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py); `resident_id` comes from tests/medications/url_params.py.
A ready MAR print and a ready downtime kit of the unit are made directly (the harness stays
fast)."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.utils import timezone

from emar.models import CareHome, Unit, User
from medications.models import DowntimeKit, MarPrint

PDF = b"%PDF-1.4\n%%EOF\n"


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    mar_print = MarPrint(
        home=home,
        unit=unit,
        start=dt.date(2026, 1, 1),
        days=28,
        requested_by=users["senior"],
        status="ready",
        progress=100,
        sha256="z" * 64,
        size=len(PDF),
    )
    mar_print.file.save("harness.pdf", ContentFile(PDF), save=False)
    mar_print.save()
    build_downtime_kit(home=home, unit=unit)
    return {"unit_id": unit.pk, "print_id": mar_print.pk}


def build_downtime_kit(*, home: CareHome, unit: Unit) -> None:
    """A ready downtime kit of the unit, so its download answers 200 (R-OFF-4)."""
    kit = DowntimeKit(
        home=home,
        unit=unit,
        due_at=timezone.now(),
        start=dt.date(2026, 1, 1),
        status="ready",
        progress=100,
        sha256="z" * 64,
        size=len(PDF),
        finished_at=timezone.now(),
    )
    kit.file.save("harness.pdf", ContentFile(PDF), save=False)
    kit.save()
