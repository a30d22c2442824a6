"""URL kwargs of the round screen's pages (dose_id, administration_id) at `home`, for the
permission-matrix harness (tests/emar/test_permission_matrix.py)."""

from __future__ import annotations

import uuid

from django.utils import timezone

from emar.models import CareHome, Unit, User
from medications import services
from medications.models import Administration, ScheduledDose
from tests.medications.factories import line, times
from tests.residents.factories import resident


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    person = resident(unit, users["senior"])
    live = line(person, users["senior"], checker=users["manager"], schedule=times("23:59"))
    services.doses_sync(home=home, start=home.local_today(), end=home.local_today())
    dose = ScheduledDose.objects.filter(line=live).first()
    record = Administration.objects.create(
        home=home,
        resident=person,
        line=live,
        dose=None,
        outcome="not_given",
        code=home.codes.get(code="H"),
        administered_at=timezone.now(),
        recorded_by=users["carer"],
        idempotency_key=uuid.uuid4(),
    )
    return {"dose_id": dose.pk, "administration_id": record.pk}
