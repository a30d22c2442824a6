"""URL kwargs of the audits pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py): a signed audit of home A with a stored report, an
action, an incident and a ready evidence pack — made directly, so the harness stays fast."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.utils import timezone

from audits import metrics
from audits.models import Audit, AuditAction, AuditReport, EvidencePack, Incident
from emar.models import CareHome, Unit, User

PDF = b"%PDF-1.4\n%%EOF\n"


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int | str]:
    manager = users["manager"]
    now = timezone.now()
    audit = Audit.objects.create(
        home=home,
        month=dt.date(2026, 1, 1),
        status="signed",
        metrics=metrics.compute(home, dt.date(2026, 1, 1), now=now),
        metrics_at=now,
        signed_by=manager,
        signed_at=now,
        signed_snapshot={"checklist": [], "actions": [], "score": {}},
    )
    report = AuditReport(audit=audit, status="ready", progress=100, sha256="x" * 64, size=len(PDF))
    report.file.save("harness.pdf", ContentFile(PDF), save=False)
    report.save()
    action = AuditAction.objects.create(
        home=home,
        raised_in=audit,
        description="Harness action",
        owner=manager,
        due_on=dt.date(2026, 2, 1),
        created_by=manager,
    )
    incident = Incident.objects.create(
        home=home,
        reference="INC-2026-9999",
        kind="near_miss",
        stage="storage",
        type="storage",
        harm="none",
        occurred_at=now,
        description="Harness",
        immediate_action="None",
        reported_by=manager,
    )
    pack = EvidencePack(
        home=home,
        start=dt.date(2026, 1, 1),
        end=dt.date(2026, 1, 31),
        requested_by=manager,
        status="ready",
        progress=100,
        sha256="y" * 64,
    )
    pack.file.save("harness.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=False)
    pack.save()
    return {
        "audit_id": audit.pk,
        "action_id": action.pk,
        "metric": "gaps",
        "incident_id": incident.pk,
        "pack_id": pack.pk,
        "provider_id": home.provider_id,  # the provider dashboard (R-DASH-2)
    }
