"""URL parameters of the training URLs for the permission-matrix harness
(tests/emar/test_permission_matrix.py): the pk of an object at `home` for each kwarg."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from emar.models import CareHome, Unit, User
from tests.training.factories import PDF, TrainingRecordFactory
from training.models import MedicinesPolicy, add_months


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    # staff_id: the carer, so every role allowed to assess is assessing someone else.
    # record_id: the senior's record with a certificate, so the carer (who may only open
    # their own) is refused with 403 and every matrix reader may open it.
    record = TrainingRecordFactory(
        home=home,
        person=users["senior"],
        recorded_by=users["manager"],
        certificate=SimpleUploadedFile("certificate.pdf", PDF),
        certificate_type="application/pdf",
        certificate_name="certificate.pdf",
    )
    policy = MedicinesPolicy.objects.create(
        home=home,
        version="harness",
        review_on=add_months(home.local_today(), 12),
        document=SimpleUploadedFile("policy.pdf", PDF),
        document_name="policy.pdf",
        published_by=users["manager"],
        published_at=record.recorded_at,
    )
    return {"staff_id": users["carer"].pk, "record_id": record.pk, "policy_id": policy.pk}
