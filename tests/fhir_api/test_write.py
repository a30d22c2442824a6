"""R-FHIR-2, R-FHIR-4: POST MedicationAdministration goes through `administration_record`:
the same rules and error codes as the round screen; bad input is a 4xx OperationOutcome and
writes nothing."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from decimal import Decimal

import pytest

from emar.models import AuditEvent, Role
from medications.models import Administration
from tests.factories import staff
from tests.medications.factories import line as make_prescription
from tests.residents.factories import resident

from .conftest import DAY, administration, at_local, dose_at, issue_code, token_for, validated


@pytest.fixture
def morning(paracetamol):
    return dose_at(paracetamol, "08:00")


def test_a_dose_given_is_recorded_once_per_identifier(
    api_as, clock, qualified, carer_a, paracetamol, morning
):
    clock("08:10")
    api = api_as(carer_a)
    body = administration(
        paracetamol,
        at_local(paracetamol.home, DAY, "08:05"),
        dosage={"dose": {"value": 1, "unit": "tablet(s)"}},
    )
    first = api.post(body)
    assert first.status_code == 201, first.body
    record = Administration.objects.get()
    assert record.dose == morning
    assert record.recorded_by == carer_a
    assert record.quantity == 1
    assert first["Location"].endswith(f"/fhir/r4/MedicationAdministration/{record.pk}")
    made = first.body
    assert made["status"] == "completed"
    assert made["identifier"][0] == {"system": "https://example.org/ehr", "value": "dose-1"}
    assert made["performer"][0]["actor"]["reference"] == f"Practitioner/{carer_a.pk}"
    assert made["dosage"]["dose"]["value"] == 1
    assert made["request"]["reference"] == f"MedicationRequest/{paracetamol.pk}"
    again = api.post(body)
    assert again.status_code == 200
    assert again.body["id"] == made["id"]
    assert Administration.objects.count() == 1
    assert AuditEvent.objects.filter(action="mar.dose.given").count() == 1
    read = api.get(f"MedicationAdministration/{record.pk}")
    assert read.body["effectiveDateTime"].startswith(f"{DAY.isoformat()}T08:05")


def test_not_done_carries_the_homes_code(api_as, clock, qualified, carer_a, paracetamol, morning):
    clock("08:10")
    body = administration(
        paracetamol,
        at_local(paracetamol.home, DAY, "08:05"),
        status="not-done",
        statusReason=[{"coding": [{"code": "R"}]}],
    )
    response = api_as(carer_a).post(body)
    assert response.status_code == 201, response.body
    assert response.body["status"] == "not-done"
    reason = response.body["statusReason"][0]["coding"][0]
    assert reason["code"] == "R" and reason["display"] == "Refused"
    assert Administration.objects.get().code.code == "R"
    bad = api_as(carer_a).post({**body, "identifier": [{"value": "x2"}], "statusReason": []})
    assert bad.status_code == 422 and issue_code(bad) == "code_required"


def test_search_by_patient_and_effective_time(
    api_as, clock, qualified, carer_a, resident_a, paracetamol, morning
):
    clock("08:10")
    api = api_as(carer_a)
    api.post(administration(paracetamol, at_local(paracetamol.home, DAY, "08:05")))
    found = api.get(
        "MedicationAdministration", patient=resident_a.pk, **{"effective-time": f"ge{DAY}"}
    )
    assert found.body["total"] == 1
    later = api.get(
        "MedicationAdministration",
        patient=resident_a.pk,
        **{"effective-time": f"ge{DAY + dt.timedelta(days=1)}"},
    )
    assert later.body["total"] == 0
    assert (
        api.get(
            "MedicationAdministration", patient=resident_a.pk, **{"effective-time": "geSoon"}
        ).status_code
        == 400
    )


def test_controlled_drug_needs_a_witness_performer(
    api_as, clock, qualified, carer_a, senior_a, oxycodone, carer_b
):
    dose_at(oxycodone, "08:00")
    clock("08:10")
    api = api_as(carer_a)
    at = at_local(oxycodone.home, DAY, "08:05")
    refused = api.post(administration(oxycodone, at, ident="cd-1"))
    assert refused.status_code == 422
    assert issue_code(refused) == "witness_required"
    outsider = api.post(
        administration(
            oxycodone,
            at,
            ident="cd-2",
            performer=[
                {
                    "function": {"coding": [{"code": "witness"}]},
                    "actor": {"reference": f"Practitioner/{carer_b.pk}"},
                }
            ],
        )
    )
    assert outsider.status_code == 422 and issue_code(outsider) == "witness_not_staff"
    assert Administration.objects.count() == 0
    witnessed = api.post(
        administration(
            oxycodone,
            at,
            ident="cd-3",
            performer=[
                {
                    "function": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/"
                                "med-admin-perform-function",
                                "code": "witness",
                            }
                        ]
                    },
                    "actor": {"reference": f"Practitioner/{senior_a.pk}"},
                }
            ],
        )
    )
    assert witnessed.status_code == 201, witnessed.body
    assert Administration.objects.get().witness == senior_a
    witness = witnessed.body["performer"][1]
    assert witness["function"]["coding"][0]["code"] == "witness"
    assert witness["actor"]["reference"] == f"Practitioner/{senior_a.pk}"


def test_someone_elses_performer_is_refused(
    api_as, clock, qualified, carer_a, senior_a, paracetamol, morning
):
    clock("08:10")
    body = administration(
        paracetamol,
        at_local(paracetamol.home, DAY, "08:05"),
        performer=[{"actor": {"reference": f"Practitioner/{senior_a.pk}"}}],
    )
    response = api_as(carer_a).post(body)
    assert response.status_code == 422 and issue_code(response) == "performer_not_caller"


def test_prn_limits_are_the_services(api_as, clock, qualified, carer_a, prn):
    api = api_as(carer_a)
    clock("08:00")
    first = api.post(
        administration(
            prn,
            at_local(prn.home, DAY, "08:00"),
            ident="prn-1",
            reasonCode=[{"text": "Says her knee hurts"}],
            dosage={"dose": {"value": 1}},
        )
    )
    assert first.status_code == 201, first.body
    assert first.body["reasonCode"][0]["text"] == "Says her knee hurts"
    clock("09:00")
    too_soon = api.post(
        administration(
            prn,
            at_local(prn.home, DAY, "09:00"),
            ident="prn-2",
            reasonCode=[{"text": "Still sore"}],
            dosage={"dose": {"value": 1}},
        )
    )
    assert too_soon.status_code == 422
    assert issue_code(too_soon) == "prn_interval"
    no_reason = api.post(
        administration(
            prn, at_local(prn.home, DAY, "09:00"), ident="prn-3", dosage={"dose": {"value": 1}}
        )
    )
    assert issue_code(no_reason) == "prn_reason_required"
    assert Administration.objects.count() == 1


def test_training_gate_is_403(api_as, clock, home_a, paracetamol, morning):
    untrained = staff(home_a, Role.CARER)
    clock("08:10")
    response = api_as(untrained).post(
        administration(paracetamol, at_local(paracetamol.home, DAY, "08:05"))
    )
    assert response.status_code == 403
    assert issue_code(response).startswith(("training_", "competency_"))
    assert Administration.objects.count() == 0


def test_bad_input_is_a_4xx_outcome_and_writes_nothing(
    api_as, clock, qualified, carer_a, senior_b_line, paracetamol, morning
):
    clock("08:10")
    api = api_as(carer_a)
    at = at_local(paracetamol.home, DAY, "08:05")
    good = administration(paracetamol, at)
    cases = [
        ("junk", None, b"{not json", 400, None),
        ("array", None, b"[]", 400, None),
        ("wrong type", {**good, "resourceType": "Patient"}, None, 400, None),
        ("unknown field", {**good, "bogus": 1}, None, 400, None),
        (
            "no identifier",
            {k: v for k, v in good.items() if k != "identifier"},
            None,
            422,
            "identifier_required",
        ),
        (
            "no request",
            {k: v for k, v in good.items() if k != "request"},
            None,
            422,
            "request_required",
        ),
        (
            "unknown request",
            {**good, "request": {"reference": "MedicationRequest/999999"}},
            None,
            422,
            "request_unknown",
        ),
        (
            "other home's request",
            {**good, "request": {"reference": f"MedicationRequest/{senior_b_line.pk}"}},
            None,
            422,
            "request_unknown",
        ),
        (
            "unknown patient",
            {**good, "subject": {"reference": "Patient/999999"}},
            None,
            422,
            "subject_mismatch",
        ),
        (
            "future",
            {**good, "effectiveDateTime": at_local(paracetamol.home, DAY, "08:50").isoformat()},
            None,
            422,
            "future_time",
        ),
        ("no time", {**good, "effectiveDateTime": DAY.isoformat()}, None, 400, None),
        ("no zone", {**good, "effectiveDateTime": "2026-11-25T08:05:00"}, None, 400, None),
        (
            "no dose then",
            {**good, "effectiveDateTime": at_local(paracetamol.home, DAY, "03:00").isoformat()},
            None,
            422,
            "no_dose_at_time",
        ),
        ("dose 0", {**good, "dosage": {"dose": {"value": 0}}}, None, 422, "quantity_not_positive"),
        ("dose 1e9", {**good, "dosage": {"dose": {"value": 1e9}}}, None, 422, "dose_invalid"),
        (
            "dose unit",
            {**good, "dosage": {"dose": {"value": 1, "unit": "ml"}}},
            None,
            422,
            "dose_unit_mismatch",
        ),
        ("status", {**good, "status": "in-progress"}, None, 422, "status_unsupported"),
        (
            "long site",
            {**good, "dosage": {"dose": {"value": 1}, "site": {"text": "x" * 41}}},
            None,
            422,
            "site_too_long",
        ),
        (
            "long identifier",
            {**good, "identifier": [{"value": "x" * 301}]},
            None,
            422,
            "identifier_too_long",
        ),
        ("bad status", {**good, "status": "eaten"}, None, 422, "status_unsupported"),
    ]
    for name, body, raw, status, code in cases:
        response = api.post(body, raw=raw)
        assert response.status_code == status, (name, response.body)
        assert response.body["resourceType"] == "OperationOutcome", name
        if code:
            assert issue_code(response) == code, name
    big = api.post(
        None,
        raw=b'{"resourceType": "MedicationAdministration", "x": "'
        + b"a" * (5 * 1024 * 1024)
        + b'"}',
    )
    assert big.status_code == 413
    form = api.post(None, raw=b"a=1", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert Administration.objects.count() == 0


@pytest.fixture
def senior_b_line(unit_b, home_b, clock):
    senior = staff(home_b, Role.SENIOR)
    checker = staff(home_b, Role.SENIOR)
    person = resident(unit_b, senior)
    return make_prescription(person, senior, checker=checker)


def test_outsider_token_cannot_write_to_another_home(api_as, clock, carer_b, paracetamol, morning):
    clock("08:10")
    response = api_as(carer_b).post(
        administration(paracetamol, at_local(paracetamol.home, DAY, "08:05"))
    )
    assert response.status_code == 422 and issue_code(response) == "request_unknown"
    assert Administration.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_over_a_live_server(live_server, clock, qualified, carer_a, paracetamol, morning):
    clock("08:10")
    secret = token_for(carer_a)
    body = json.dumps(administration(paracetamol, at_local(paracetamol.home, DAY, "08:05")))
    request = urllib.request.Request(
        f"{live_server.url}/fhir/r4/MedicationAdministration",
        data=body.encode(),
        method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/fhir+json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
        made = validated(json.loads(response.read()))
    read = urllib.request.Request(
        f"{live_server.url}/fhir/r4/MedicationAdministration/{made.id}",
        headers={"Authorization": f"Bearer {secret}"},
    )
    with urllib.request.urlopen(read) as response:
        assert validated(json.loads(response.read())).status == "completed"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{live_server.url}/fhir/r4/Patient")
    assert e.value.code == 401
    assert Administration.objects.get().quantity == Decimal(1)


def test_administration_search_is_a_fixed_number_of_queries(
    api_as, clock, qualified, carer_a, senior_a, resident_a, make_line
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    names = ["Paracetamol 500mg tablets", "Paracetamol 500mg soluble tablets"]
    lines = [make_line(name) for name in names]
    for item in lines:
        dose_at(item, "08:00")
    clock("08:10")
    api = api_as(carer_a)
    at = at_local(resident_a.home, DAY, "08:05")
    params = {"patient": resident_a.pk, "effective-time": f"ge{DAY}"}
    api.post(administration(lines[0], at, ident="q-0"))
    api.get("MedicationAdministration", **params)
    with CaptureQueriesContext(connection) as small:
        assert api.get("MedicationAdministration", **params).body["total"] == 1
    api.post(
        administration(
            lines[1], at, ident="q-1", status="not-done", statusReason=[{"coding": [{"code": "R"}]}]
        )
    )
    with CaptureQueriesContext(connection) as large:
        assert api.get("MedicationAdministration", **params).body["total"] == 2
    assert len(large) == len(small)


def test_a_home_that_requires_scanning_stores_the_senders_pack_check_as_the_reason(
    api_as, clock, qualified, carer_a, paracetamol, morning
):
    """R-SCAN-1, H-14: another system's record has no pack here to scan; it is stored, and the
    dose's scan row says whose pack check it was."""
    from fhir_api.services import API_NO_SCAN_REASON

    home = paracetamol.home
    home.scanning = "required"
    home.save(update_fields=["scanning"])
    clock("08:10")
    body = administration(paracetamol, at_local(home, DAY, "08:05"))
    assert api_as(carer_a).post(body).status_code == 201
    record = Administration.objects.get()
    assert (record.scan.gtin, record.scan.no_scan_reason) == ("", API_NO_SCAN_REASON)
