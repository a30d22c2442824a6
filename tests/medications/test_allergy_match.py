"""R-RX-5, R-RES-2 / H-4: allergy matches block prescribing; unknown status blocks activation."""

from __future__ import annotations

import pytest

from emar import permissions
from emar.models import AuditEvent, Role
from emar.permissions import Perm
from emar.services import DomainError
from medications import selectors, services
from medications.models import LineStatus, PrescriptionLine
from residents import services as resident_services
from residents.models import AllergyStatus
from tests.medications.factories import line, medicine
from tests.residents.factories import resident


@pytest.fixture
def codeine_allergic(unit_a, senior_a):
    return resident(unit_a, senior_a, allergies=("Codeine",))


def test_an_ingredient_match_blocks_the_line(codeine_allergic, senior_a):
    with pytest.raises(DomainError) as e:
        line(codeine_allergic, senior_a, name="Co-codamol 30mg/500mg tablets")
    assert e.value.code == "allergy_match"
    assert "Codeine" in e.value.messages[0]
    assert not PrescriptionLine.objects.exists()


def test_a_product_name_match_is_case_insensitive(unit_a, senior_a):
    person = resident(unit_a, senior_a, allergies=("ORAMORPH",))
    with pytest.raises(DomainError) as e:
        line(person, senior_a, name="Oramorph 10mg/5ml oral solution", dose_unit="ml")
    assert e.value.code == "allergy_match"


def test_a_penicillin_allergy_catches_amoxicillin(unit_a, senior_a):
    person = resident(unit_a, senior_a, allergies=("Penicillin",))
    with pytest.raises(DomainError) as e:
        line(person, senior_a, name="Amoxicillin 500mg capsules", dose_unit="capsule")
    assert e.value.code == "allergy_match"


def test_an_unrelated_allergy_does_not_block(unit_a, senior_a):
    person = resident(unit_a, senior_a, allergies=("Latex", "Elastoplast"))
    assert line(person, senior_a).status == LineStatus.AWAITING_CHECK


def test_a_removed_allergy_no_longer_blocks(codeine_allergic, senior_a):
    allergy = codeine_allergic.allergies.get()
    resident_services.allergy_remove(
        allergy=allergy, by=senior_a, reason="Entered in error", new_status="none_known"
    )
    assert line(codeine_allergic, senior_a, name="Codeine 30mg tablets")


def test_a_senior_can_override_with_a_reason_which_is_audited(
    codeine_allergic, senior_a, senior2_a
):
    entered = line(
        codeine_allergic,
        senior_a,
        name="Co-codamol 30mg/500mg tablets",
        allergy_override_reason="GP confirms the reaction was nausea, not an allergy",
    )
    assert entered.allergy_override_by == senior_a
    event = AuditEvent.objects.get(action="prescription.entered", object_id=str(entered.pk))
    assert event.after["allergy_override"]["substances"] == ["Codeine"]
    assert services.line_check(line=entered, by=senior2_a).status == LineStatus.ACTIVE


def test_only_a_senior_can_override_even_if_carers_could_enter(
    codeine_allergic, carer_a, monkeypatch
):
    widened = permissions.MATRIX[Perm.ENTER_PRESCRIPTION] | {Role.CARER}
    monkeypatch.setitem(permissions.MATRIX, Perm.ENTER_PRESCRIPTION, widened)
    with pytest.raises(DomainError) as e:
        line(
            codeine_allergic,
            carer_a,
            name="Co-codamol 30mg/500mg tablets",
            allergy_override_reason="because",
        )
    assert e.value.code == "override_not_senior"


def test_unknown_allergy_status_blocks_activation(unit_a, senior_a, senior2_a):
    person = resident(unit_a, senior_a, allergy_status=AllergyStatus.UNKNOWN)
    entered = line(person, senior_a)
    with pytest.raises(DomainError) as e:
        services.line_check(line=entered, by=senior2_a)
    assert e.value.code == "allergy_status_unknown"
    resident_services.allergy_status_set(
        resident=person, by=senior_a, status=AllergyStatus.NONE_KNOWN, reason="GP confirmed"
    )
    assert services.line_check(line=entered, by=senior2_a).status == LineStatus.ACTIVE


def test_an_allergy_recorded_after_entry_blocks_the_check(resident_a, senior_a, senior2_a):
    entered = line(resident_a, senior_a, name="Ibuprofen 400mg tablets")
    resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="NSAIDs", reason="GP record"
    )
    with pytest.raises(DomainError) as e:
        services.line_check(line=entered, by=senior2_a)
    assert e.value.code == "allergy_match"


def test_allergy_matches_uses_whole_words(db):
    iron = medicine("Ferrous fumarate 210mg tablets")

    class A:
        removed_at = None

        def __init__(self, substance):
            self.substance = substance

    assert selectors.allergy_matches(iron, [A("environment dust")]) == []
    assert len(selectors.allergy_matches(iron, [A("Iron")])) == 1
