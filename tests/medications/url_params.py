"""URL kwargs of medications' pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py): the pk of a suitable object at `home`."""

from __future__ import annotations

from emar.models import CareHome, Unit, User
from medications import services
from residents.models import AllergyStatus
from tests.medications.factories import line, times
from tests.residents.factories import resident


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    seniors = [users[n] for n in ("senior", "manager", "admin") if n in users]
    enterer, checker = seniors[0], seniors[1]
    person = resident(unit, enterer, allergy_status=AllergyStatus.NONE_KNOWN)
    live = line(person, enterer, checker=checker)
    change = services.schedule_change(line=live, by=enterer, schedule=times("09:00"))
    return {"resident_id": person.pk, "line_id": live.pk, "version_id": change.pk}
