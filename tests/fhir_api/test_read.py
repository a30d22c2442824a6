"""R-FHIR-1, R-FHIR-3, R-FHIR-4: the read API over HTTP, scoped like the screens (R-ORG-2)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audits.models import AccessLog
from emar.models import Role
from medications.models import Medicine
from residents import services as resident_services
from tests.factories import staff
from tests.residents.factories import resident

from .conftest import DAY, administration, at_local, validated

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def test_metadata_is_public_and_a_capability_statement(client):
    response = client.get("/fhir/r4/metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    statement = validated(response.json())
    assert statement.fhirVersion == "4.3.0"
    kinds = {r.type for r in statement.rest[0].resource}
    assert {"Patient", "MedicationAdministration", "MedicationRequest"} <= kinds


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer emar_not-a-token"])
def test_no_or_unknown_token_is_401_operation_outcome(client, header, resident_a):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/fhir/r4/Patient", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    outcome = validated(response.json())
    assert outcome.issue[0].details.coding[0].code in ("token_missing", "token_unknown")


def test_patient_search_read_and_nhs_number_identifier(api_as, carer_a, resident_a, unit_a):
    other = resident(unit_a, carer_a, full_name="Frank Other")
    api = api_as(carer_a)
    found = api.get("Patient")
    assert found.status_code == 200
    assert found.body["type"] == "searchset"
    assert found.body["total"] == 2
    by_nhs = api.get("Patient", identifier=f"{NHS}|{resident_a.nhs_number}")
    assert by_nhs.body["total"] == 1
    patient = by_nhs.body["entry"][0]["resource"]
    assert patient["id"] == str(resident_a.pk)
    assert patient["identifier"] == [{"system": NHS, "value": resident_a.nhs_number}]
    assert patient["birthDate"] == resident_a.date_of_birth.isoformat()
    read = api.get(f"Patient/{other.pk}")
    assert read.status_code == 200
    assert read.body["name"][0]["text"] == "Frank Other"
    assert api.get("Patient", identifier=f"urn:other|{resident_a.nhs_number}").status_code == 400


def test_searches_page_with_count_and_next_links(api_as, carer_a, resident_a, unit_a):
    for _ in range(2):
        resident(unit_a, carer_a)
    api = api_as(carer_a)
    first = api.get("Patient", _count=2)
    assert [e["resource"]["id"] for e in first.body["entry"]] == [
        str(pk) for pk in sorted(int(e["resource"]["id"]) for e in first.body["entry"])
    ]
    assert first.body["total"] == 3 and len(first.body["entry"]) == 2
    next_url = next(link["url"] for link in first.body["link"] if link["relation"] == "next")
    second = api.client.get(next_url, **api._auth())
    body = second.json()
    assert len(body["entry"]) == 1
    assert not [link for link in body["link"] if link["relation"] == "next"]
    assert api.get("Patient", _count=0).status_code == 400
    assert api.get("Patient", nonsense="1").status_code == 400


def test_outsider_sees_nothing_of_another_home(api_as, carer_b, resident_a, paracetamol):
    api = api_as(carer_b)
    assert api.get("Patient").body["total"] == 0
    for path in (
        f"Patient/{resident_a.pk}",
        f"MedicationRequest/{paracetamol.pk}",
        f"Practitioner/{paracetamol.entered_by_id}",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.body["resourceType"] == "OperationOutcome"
    assert api.get("MedicationRequest", patient=resident_a.pk).body["total"] == 0
    assert api.get("AllergyIntolerance", patient=resident_a.pk).body["total"] == 0


def test_practitioners_are_the_staff_of_the_callers_homes(
    api_as, carer_a, senior_a, manager_a, inspector_a, carer_b
):
    found = api_as(carer_a).get("Practitioner")
    ids = {e["resource"]["id"] for e in found.body["entry"]}
    assert ids == {str(carer_a.pk), str(senior_a.pk), str(manager_a.pk)}


def test_allergy_intolerance_of_a_patient(api_as, carer_a, unit_a, senior_a, clock):
    person = resident(unit_a, senior_a, allergies=("Penicillin", "Latex"))
    latex = person.allergies.get(substance="Latex")
    resident_services.allergy_remove(allergy=latex, by=senior_a, reason="Tested: not allergic")
    found = api_as(carer_a).get("AllergyIntolerance", patient=f"Patient/{person.pk}")
    assert found.body["total"] == 2
    status = {
        e["resource"]["code"]["text"]: e["resource"]["clinicalStatus"]["coding"][0]["code"]
        for e in found.body["entry"]
    }
    assert status == {"Penicillin": "active", "Latex": "inactive"}
    item = found.body["entry"][0]["resource"]
    assert item["patient"]["reference"] == f"Patient/{person.pk}"


def test_medication_has_dmd_coding_or_text_only(api_as, carer_a, paracetamol):
    api = api_as(carer_a)
    coded = api.get(f"Medication/{paracetamol.medicine_id}").body
    assert coded["code"]["coding"] == [
        {
            "system": "https://dmd.nhs.uk",
            "code": paracetamol.medicine.dmd_code,
            "display": paracetamol.medicine.name,
        }
    ]
    uncoded = Medicine.objects.create(name="Aqueous cream (local supplier)", form="cream")
    body = api.get(f"Medication/{uncoded.pk}").body
    assert body["code"] == {"text": "Aqueous cream (local supplier)"}


def test_medication_requests_carry_dosage_timing_and_prn_limits(
    api_as, carer_a, resident_a, paracetamol, prn
):
    found = api_as(carer_a).get("MedicationRequest", patient=resident_a.pk)
    by_id = {e["resource"]["id"]: e["resource"] for e in found.body["entry"]}
    regular = by_id[str(paracetamol.pk)]["dosageInstruction"][0]
    assert regular["asNeededBoolean"] is False
    assert regular["timing"]["repeat"]["timeOfDay"] == ["08:00:00", "20:00:00"]
    assert regular["doseAndRate"][0]["doseQuantity"]["value"] == 1
    assert by_id[str(paracetamol.pk)]["status"] == "active"
    assert by_id[str(paracetamol.pk)]["subject"] == {"reference": f"Patient/{resident_a.pk}"}
    when_required = by_id[str(prn.pk)]["dosageInstruction"][0]
    assert when_required["asNeededBoolean"] is True
    assert when_required["maxDosePerPeriod"]["numerator"]["value"] == 4  # 2 tablets x 2 doses
    assert when_required["maxDosePerPeriod"]["denominator"]["code"] == "h"
    assert "240 minutes" in when_required["text"]
    assert when_required["doseAndRate"][0]["doseRange"]["high"]["value"] == 2


def _lines(make_line, n: int) -> None:
    names = [
        "Paracetamol 500mg soluble tablets",
        "Oxycodone 10mg capsules",
        "Paracetamol 500mg tablets",
    ]
    for name in names[:n]:
        make_line(name, dose_unit="capsule" if "capsule" in name else "tablet")


def test_a_search_page_is_a_fixed_number_of_queries(api_as, carer_a, resident_a, make_line):
    api = api_as(carer_a)
    _lines(make_line, 1)
    with CaptureQueriesContext(connection) as small:
        assert api.get("MedicationRequest", patient=resident_a.pk).body["total"] == 1
    _lines(make_line, 3)
    api.get("MedicationRequest", patient=resident_a.pk)  # warm the cached token use time
    with CaptureQueriesContext(connection) as large:
        assert api.get("MedicationRequest", patient=resident_a.pk).body["total"] == 4
    assert len(large) == len(small)


def test_every_api_call_is_on_the_access_log(api_as, carer_a, resident_a, home_a):
    api = api_as(carer_a)
    api.get(f"Patient/{resident_a.pk}")
    api.get(f"Patient/{resident_a.pk + 999}")
    rows = list(AccessLog.objects.filter(home=home_a, action="api").order_by("pk"))
    assert [r.user for r in rows] == [carer_a, carer_a]
    assert rows[0].what.endswith("→ 200") and rows[1].what.endswith("→ 404")
    assert rows[0].path == f"/fhir/r4/Patient/{resident_a.pk}"


def test_inspector_reads_but_cannot_write(api_as, inspector_a, resident_a, paracetamol, clock):
    api = api_as(inspector_a)
    assert api.get("MedicationRequest", patient=resident_a.pk).body["total"] == 1
    response = api.post(administration(paracetamol, at_local(resident_a.home, DAY, "08:00")))
    assert response.status_code == 403
    assert response.body["issue"][0]["details"]["coding"][0]["code"] == "not_allowed"


def test_roles_end_with_the_membership(api_as, home_a, resident_a):
    person = staff(home_a, Role.CARER)
    api = api_as(person)
    assert api.get("Patient").body["total"] == 1
    person.memberships.update(active=False)
    assert api.get(f"Patient/{resident_a.pk}").status_code == 404
