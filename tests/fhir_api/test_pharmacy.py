"""R-FHIR-5, R-RX-12: the supplying pharmacy posts MedicationRequests (or a transaction Bundle
of them); each becomes a line awaiting check for the resident with that NHS number, never on
the rounds until a senior accepts it. Bad input is a 4xx OperationOutcome and writes nothing."""

from __future__ import annotations

import copy
import datetime as dt
import json
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from audits.models import AccessLog
from emar.models import AuditEvent
from medications import services
from medications.models import (
    LineStatus,
    Medicine,
    PharmacyImport,
    PrescriptionLine,
    RxSource,
    ScheduledDose,
)
from tests.medications.factories import line as make_prescription
from tests.residents.factories import resident

from .conftest import DAY, issue_code, token_for, validated

PARACETAMOL = "42109611000001109"  # Paracetamol 500mg tablets (starter catalogue)
RAMIPRIL = "42381411000001102"  # Ramipril 2.5mg capsules
NEW_CODE = "4444441100000014"  # Verhoeff-valid, not in the catalogue


@pytest.fixture
def pharmacy(home_a):
    return services.pharmacy_create(name="Riverside Pharmacy", homes=[home_a], by=None)


@pytest.fixture
def rx(client, pharmacy):
    """A client speaking as the pharmacy's token."""
    return PharmacyApi(client, token_for(pharmacy.account))


class PharmacyApi:
    def __init__(self, client, secret: str) -> None:
        self.client, self.secret = client, secret

    def post(self, body, path: str = "MedicationRequest", raw: bytes | None = None, **kw):
        response = self.client.post(
            f"/fhir/r4/{path}",
            data=raw if raw is not None else json.dumps(body, default=str),
            content_type=kw.pop("content_type", "application/fhir+json"),
            HTTP_AUTHORIZATION=f"Bearer {self.secret}",
            **kw,
        )
        response.body = json.loads(response.content)
        validated(response.body)
        return response

    def get(self, path: str):
        response = self.client.get(
            f"/fhir/r4/{path}", headers={"authorization": f"Bearer {self.secret}"}
        )
        response.body = json.loads(response.content)
        validated(response.body)
        return response


def request(
    patient,
    *,
    ident: str = "rx-1",
    code: str | None = PARACETAMOL,
    display: str | None = "Paracetamol 500mg tablets",
    dose=2,
    unit: str = "tablet",
    times: tuple[str, ...] = ("08:00:00", "12:00:00", "17:00:00", "22:00:00"),
    prn: bool = False,
    **extra,
) -> dict:
    coding = [{"system": "https://dmd.nhs.uk", "code": code, "display": display}] if code else []
    repeat = (
        {"timeOfDay": list(times)} if not prn else {"frequency": 1, "period": 4, "periodUnit": "h"}
    )
    dosage = {
        "text": "Two tablets four times a day",
        "timing": {"repeat": repeat},
        "asNeededBoolean": prn,
        "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]},
        "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit}}],
    }
    if prn:
        dosage["maxDosePerPeriod"] = {
            "numerator": {"value": dose * 4, "unit": unit},
            "denominator": {
                "value": 24,
                "unit": "h",
                "system": "http://unitsofmeasure.org",
                "code": "h",
            },
        }
    body = {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": "https://riverside-pharmacy.example/rx", "value": ident}],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": coding or None, "text": display},
        "subject": {
            "identifier": {
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": patient.nhs_number,
            }
        },
        "requester": {"display": "Dr Patel, Riverside Surgery"},
        "reasonCode": [{"text": "Pain"}],
        "dosageInstruction": [dosage],
    }
    body.update(extra)
    return body


def bundle(*resources) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": "MedicationRequest"}}
            for r in resources
        ],
    }


def test_a_request_becomes_a_line_awaiting_check(rx, resident_a, pharmacy, clock):
    clock("10:00")
    response = rx.post(request(resident_a))
    assert response.status_code == 201, response.body
    line = PrescriptionLine.objects.get()
    assert line.status == LineStatus.AWAITING_CHECK
    assert line.resident == resident_a
    assert line.medicine.dmd_code == PARACETAMOL
    assert (line.dose, line.dose_unit, line.route) == (Decimal(2), "tablet", "oral")
    assert line.source == RxSource.PHARMACY_IMPORT
    assert line.entered_by == pharmacy.account
    assert line.prescriber == "Dr Patel, Riverside Surgery"
    assert [s["time"] for s in line.versions.get().slots] == ["08:00", "12:00", "17:00", "22:00"]
    made = response.body
    assert made["resourceType"] == "MedicationRequest"
    assert made["status"] == "draft"  # awaiting check
    assert made["identifier"][0]["value"] == "rx-1"
    assert response["Location"].endswith(f"/fhir/r4/MedicationRequest/{line.pk}")
    event = AuditEvent.objects.get(action="prescription.imported")
    assert event.actor == pharmacy.account and event.home_id == resident_a.home_id
    assert AccessLog.objects.filter(home=resident_a.home, user=pharmacy.account).exists()


def test_the_same_identifier_again_creates_nothing(rx, resident_a, pharmacy, clock):
    first = rx.post(request(resident_a))
    again = rx.post(request(resident_a, dose=1))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.body["id"] == first.body["id"]
    assert PrescriptionLine.objects.count() == 1 == PharmacyImport.objects.count()
    assert AuditEvent.objects.filter(action="prescription.imported").count() == 1


def test_the_database_refuses_a_second_import_of_an_identifier(rx, resident_a, pharmacy, senior_a):
    from django.db import IntegrityError, transaction

    rx.post(request(resident_a))
    item = PharmacyImport.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        PharmacyImport.objects.create(
            pharmacy=pharmacy,
            line=make_prescription(resident_a, senior_a),
            identifier_system=item.identifier_system,
            identifier_value=item.identifier_value,
            batch=item.batch,
            resource={},
        )


def test_a_bundle_imports_every_line(rx, resident_a, clock):
    response = rx.post(
        bundle(
            request(resident_a),
            request(
                resident_a,
                ident="rx-2",
                code=RAMIPRIL,
                display="Ramipril 2.5mg capsules",
                dose=1,
                unit="capsule",
                times=("08:00:00",),
            ),
        ),
        path="",
    )
    assert response.status_code == 200, response.body
    assert response.body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response.body["entry"]] == ["201 Created"] * 2
    assert PrescriptionLine.objects.filter(status=LineStatus.AWAITING_CHECK).count() == 2
    assert set(PharmacyImport.objects.values_list("is_full_list", flat=True)) == {True}
    again = rx.post(bundle(request(resident_a)), path="")
    assert again.body["entry"][0]["response"]["status"] == "200 OK"
    assert PrescriptionLine.objects.count() == 2


def test_a_bundle_with_one_bad_entry_writes_nothing(rx, resident_a, clock):
    response = rx.post(
        bundle(request(resident_a), request(resident_a, ident="rx-2", dose=0)), path=""
    )
    assert response.status_code == 422, response.body
    assert issue_code(response) == "dosage_invalid"
    assert "Entry 2" in response.body["issue"][0]["diagnostics"]
    assert PrescriptionLine.objects.count() == 0 == PharmacyImport.objects.count()
    assert not AuditEvent.objects.filter(action="prescription.imported").exists()


def test_an_unknown_nhs_number_is_422(rx, resident_a):
    body = request(resident_a)
    body["subject"]["identifier"]["value"] = "9434765919"
    response = rx.post(body)
    assert response.status_code == 422 and issue_code(response) == "patient_unknown"
    assert not PrescriptionLine.objects.exists()


def test_another_homes_patient_is_unknown(rx, unit_b, home_b):
    from tests.factories import staff

    outsider = resident(unit_b, staff(home_b, "senior", username="senior_b"))
    response = rx.post(request(outsider))
    assert response.status_code == 422 and issue_code(response) == "patient_unknown"
    assert not PrescriptionLine.objects.exists()


def test_an_unknown_dmd_code_without_a_name_is_422(rx, resident_a):
    response = rx.post(request(resident_a, code=NEW_CODE, display=None))
    assert response.status_code == 422 and issue_code(response) == "medication_unknown"
    assert not Medicine.objects.filter(dmd_code=NEW_CODE).exists()


def test_an_unknown_dmd_code_with_a_name_joins_the_catalogue(rx, resident_a):
    response = rx.post(request(resident_a, code=NEW_CODE, display="Zapamol 10mg tablets"))
    assert response.status_code == 201, response.body
    medicine = Medicine.objects.get(dmd_code=NEW_CODE)
    assert medicine.name == "Zapamol 10mg tablets" and medicine.code_to_confirm
    # A controlled drug new to the catalogue keeps its schedule from its ingredient (H-5).
    cd = rx.post(
        request(
            resident_a, ident="rx-cd", code=None, display="Oxycodone 20mg capsules", unit="capsule"
        )
    )
    assert cd.status_code == 201, cd.body
    oxycodone = Medicine.objects.get(name="Oxycodone 20mg capsules")
    assert oxycodone.cd_schedule == "2" and oxycodone.cd_register and not oxycodone.dmd_code
    bad = rx.post(request(resident_a, ident="rx-9", code="12345678", display="Made up"))
    assert bad.status_code == 422 and issue_code(bad) == "dmd_code_invalid"


@pytest.mark.parametrize(
    "change",
    [
        {"dose": 0},
        {"dose": 1e9},
        {"unit": "bucket"},
        {"times": ()},
        {"dosageInstruction": []},
        {"route": {"text": "through the ear lobe"}},
        {"frequency": 3},
    ],
    ids=["zero", "huge", "unit", "no-times", "no-dosage", "route", "frequency-mismatch"],
)
def test_a_malformed_dosage_is_422(rx, resident_a, change):
    kw = {k: v for k, v in change.items() if k in ("dose", "unit", "times")}
    body = request(resident_a, **kw)
    dosage = body["dosageInstruction"][0]
    if "dosageInstruction" in change:
        body["dosageInstruction"] = []
    if "route" in change:
        dosage["route"] = change["route"]
    if "frequency" in change:
        dosage["timing"]["repeat"]["frequency"] = 3
    response = rx.post(body)
    assert response.status_code == 422, response.body
    assert issue_code(response) == "dosage_invalid"
    assert not PrescriptionLine.objects.exists()


def test_a_fractional_dose_is_stored_with_the_resource_as_sent(rx, resident_a):
    response = rx.post(request(resident_a, dose=0.5, unit="ml", times=("08:00:00",)))
    assert response.status_code == 201, response.body
    item = PharmacyImport.objects.get()
    assert item.line.dose == Decimal("0.5") and item.line.dose_unit == "ml"
    stored = item.resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert stored["value"] == 0.5


def test_a_prn_request_carries_its_limits(rx, resident_a):
    response = rx.post(request(resident_a, prn=True, dose=1))
    assert response.status_code == 201, response.body
    line = PrescriptionLine.objects.get()
    assert line.is_prn and (line.prn_min_interval_minutes, line.prn_max_doses_24h) == (240, 4)
    no_limit = request(resident_a, ident="rx-2", prn=True, dose=1)
    del no_limit["dosageInstruction"][0]["maxDosePerPeriod"]
    bad = rx.post(no_limit)
    assert bad.status_code == 422 and issue_code(bad) == "dosage_invalid"


def test_a_staff_token_cannot_send_prescriptions(client, senior_a, resident_a):
    api = PharmacyApi(client, token_for(senior_a))
    response = api.post(request(resident_a))
    assert response.status_code == 403 and issue_code(response) == "pharmacy_only"
    bundle_response = api.post(bundle(request(resident_a)), path="")
    assert bundle_response.status_code == 403
    assert not PrescriptionLine.objects.exists()


def test_a_pharmacy_token_reads_nothing(rx, resident_a, paracetamol):
    for path in (
        f"Patient/{resident_a.pk}",
        "Patient",
        f"MedicationRequest?patient={resident_a.pk}",
        f"MedicationRequest/{paracetamol.pk}",
        "Practitioner",
    ):
        response = rx.get(path)
        assert response.status_code == 403, path
        assert issue_code(response) == "pharmacy_cannot_read"
    assert rx.post({}, path="MedicationAdministration").status_code == 403


def test_junk_and_oversized_bodies_are_refused(rx, resident_a):
    junk = rx.post(None, raw=b"{not json")
    assert junk.status_code == 400
    wrong = rx.post({"resourceType": "Patient"})
    assert wrong.status_code == 400
    invalid = rx.post({**request(resident_a), "status": 12})
    assert invalid.status_code == 400
    big = rx.post(None, raw=b" " * (5 * 1024 * 1024) + b"{}")
    assert big.status_code == 413
    not_transaction = rx.post({**bundle(request(resident_a)), "type": "batch"}, path="")
    assert not_transaction.status_code == 422
    assert not PrescriptionLine.objects.exists()


def test_a_revoked_pharmacy_token_is_refused(rx, pharmacy, resident_a):
    from fhir_api import services as api_services

    token = pharmacy.account.api_tokens.get()
    api_services.api_token_revoke(token=token, by=pharmacy.account)
    assert rx.post(request(resident_a)).status_code == 401


def test_a_pending_import_never_produces_a_due_dose(rx, resident_a, clock):
    clock("07:00", DAY)
    rx.post(request(resident_a))
    line = PrescriptionLine.objects.get()
    services.doses_sync(home=line.home, start=DAY, end=DAY + dt.timedelta(days=2))
    assert not ScheduledDose.objects.filter(line=line).exists()


@pytest.mark.django_db(transaction=True)
def test_over_a_live_server(live_server, pharmacy, resident_a):
    secret = token_for(pharmacy.account)
    body = json.dumps(
        bundle(request(resident_a), copy.deepcopy(request(resident_a, ident="rx-2")))
    ).encode()
    call = urllib.request.Request(
        f"{live_server.url}/fhir/r4/",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/fhir+json"},
    )
    with urllib.request.urlopen(call) as response:
        made = validated(json.loads(response.read()))
    assert made.type == "transaction-response" and len(made.entry) == 2
    read = urllib.request.Request(
        f"{live_server.url}/fhir/r4/Patient", headers={"Authorization": f"Bearer {secret}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(read)
    assert refused.value.code == 403
