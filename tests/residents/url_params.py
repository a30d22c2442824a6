"""URL kwargs of residents' pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py): the pk of a suitable object at `home`."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from emar.models import CareHome, Unit, User
from residents import documents, services
from residents.models import AllergyStatus
from tests.residents.factories import resident
from tests.training.factories import PDF


def _actor(users: dict[str, User]) -> User:
    for name in ("senior", "manager", "admin"):
        if name in users:
            return users[name]
    return next(iter(users.values()))


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    by = _actor(users)
    person = resident(unit, by, allergy_status=AllergyStatus.UNKNOWN)
    allergy = services.allergy_add(resident=person, by=by, substance="Latex", reason="GP record")
    rec = services.reconciliation_start(
        resident=person,
        by=by,
        reason="admission",
        arrived_on=home.local_today(),
        sources=["gp_record"],
    )
    # Unresolved, so that an empty "complete" POST is refused (400) rather than completing.
    item = services.discrepancy_add(reconciliation=rec, by=by, description="Dose differs")
    letter = documents.document_upload(
        resident=person,
        by=by,
        kind="discharge_letter",
        title="Discharge letter",
        upload=SimpleUploadedFile("letter.pdf", PDF),
        reconciliation=rec,
    )
    return {
        "document_id": letter.pk,
        "resident_id": person.pk,
        "allergy_id": allergy.pk,
        "reconciliation_id": rec.pk,
        "discrepancy_id": item.pk,
    }
