"""The demo's supplying pharmacy (R-FHIR-5, R-RX-12, R-RUN-4): "Hillside Pharmacy" supplies
Demo Care Home, has sent one resident's medicines list (one line changed, one new) waiting for
a senior's check, and gets a token printed by seed_demo with a curl command to try."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from decimal import Decimal

from django.utils import timezone

from demo.organisation import DemoContext
from fhir_api import services
from medications import services as rx
from medications.models import LineStatus, PrescriptionLine
from residents.models import AllergyStatus, Resident, ResidentStatus

PHARMACY = "Hillside Pharmacy"
ODS = "FHX12"
SYSTEM = "https://hillside-pharmacy.example/rx"


def _as_sent(line: PrescriptionLine, *, ident: str, dose: Decimal | None = None) -> rx.ImportedLine:
    """A current line as the pharmacy would send it (optionally with another dose)."""
    version = line.versions.filter(effective_from__isnull=False).order_by("-effective_from").first()
    per_dose = line.dose_max or line.dose
    return rx.ImportedLine(
        identifier_system=SYSTEM,
        identifier_value=ident,
        nhs_number=line.resident.nhs_number,
        dmd_code=line.medicine.dmd_code,
        medication_name=line.medicine.name,
        dose=dose or line.dose,
        dose_max=line.dose_max,
        dose_unit=line.dose_unit,
        route=line.route,
        is_prn=line.is_prn,
        times=()
        if line.is_prn or version is None
        else tuple(dt.time.fromisoformat(s["time"]) for s in version.slots),
        prn_min_interval_minutes=line.prn_min_interval_minutes,
        prn_max_per_24h=per_dose * line.prn_max_doses_24h if line.is_prn else None,
        indication=line.indication,
        instructions=line.instructions,
        prescriber=line.prescriber,
    )


def _simple(person: Resident) -> list[PrescriptionLine] | None:
    """The resident's live lines if each is a plain fixed-dose daily or PRN line."""
    lines = list(
        PrescriptionLine.objects.filter(resident=person, status=LineStatus.ACTIVE)
        .select_related("medicine", "resident")
        .order_by("pk")
    )
    for line in lines:
        version = line.versions.filter(effective_from__isnull=False).first()
        if line.is_prn and not (line.prn_min_interval_minutes and line.prn_max_doses_24h):
            return None
        if not line.is_prn and (
            version is None or version.days != "daily" or version.dose_rule != "fixed"
        ):
            return None
    return lines if len(lines) >= 2 else None


def seed(ctx: DemoContext) -> None:
    home = ctx.home
    pharmacy = rx.pharmacy_create(
        name=PHARMACY, homes=[home], by=ctx.users["manager"], ods_code=ODS
    )
    residents = Resident.objects.filter(
        home=home, status=ResidentStatus.RESIDENT, allergy_status=AllergyStatus.NONE_KNOWN
    ).order_by("pk")
    chosen = next(((p, ls) for p in residents if (ls := _simple(p))), None)
    if chosen is not None:
        person, lines = chosen
        regular = next(ln for ln in lines if not ln.is_prn)
        items = [
            _as_sent(ln, ident=f"demo-{person.pk}-{ln.medicine_id}", dose=None)
            for ln in lines
            if ln is not regular
        ]
        items.append(
            _as_sent(
                regular, ident=f"demo-{person.pk}-{regular.medicine_id}", dose=regular.dose * 2
            )
        )
        items.append(
            rx.ImportedLine(
                identifier_system=SYSTEM,
                identifier_value=f"demo-{person.pk}-senna",
                nhs_number=person.nhs_number,
                dmd_code="",
                medication_name="Senna 7.5mg tablets",
                dose=Decimal(2),
                dose_max=None,
                dose_unit="tablet",
                route="oral",
                is_prn=False,
                times=(dt.time(22),),
                indication="Constipation",
                prescriber="Dr Rao, Hillside Surgery",
            )
        )
        rx.prescription_import_many(pharmacy=pharmacy, items=items)
    target = residents.first()
    body = {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": SYSTEM, "value": "try-1"}],
        "status": "active",
        "intent": "order",
        "subject": {
            "identifier": {
                "system": services.NHS_NUMBER,
                "value": target.nhs_number if target else "9990000000",
            }
        },
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": services.DMD,
                    "code": "42109611000001109",
                    "display": "Paracetamol 500mg tablets",
                }
            ]
        },
        "requester": {"display": "Dr Rao, Hillside Surgery"},
        "dosageInstruction": [
            {
                "timing": {
                    "repeat": {"timeOfDay": ["08:00:00", "12:00:00", "17:00:00", "22:00:00"]}
                },
                "route": {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral"}
                    ]
                },
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
    }
    now = timezone.now()
    if pharmacy.account.api_tokens.filter(revoked_at__isnull=True, expires_at__gt=now).exists():
        # A token's secret is shown once: a second run says how to make another.
        secret = "$TOKEN"
        intro = (
            f"Pharmacy import (R-FHIR-5): {PHARMACY} already has a token; make another with\n"
            f"  TOKEN=$(python manage.py api_token --pharmacy {shlex.quote(PHARMACY)}"
            " 2>/dev/null)\n"
        )
    else:
        _, secret = services.api_token_create(user=pharmacy.account, label="Demo pharmacy")
        intro = f"Pharmacy import (R-FHIR-5): {PHARMACY}'s token (shown once): {secret}\n"
    ctx.notes.append(
        intro + f"  curl -X POST http://127.0.0.1:8000/fhir/r4/MedicationRequest \\\n"
        f'    -H "Authorization: Bearer {secret}" -H "Content-Type: application/fhir+json" \\\n'
        f"    -d {shlex.quote(json.dumps(body))}\n"
        "  then sign in as senior: Prescriptions to check → lines from the pharmacy."
    )
