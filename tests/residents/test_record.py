"""R-RES-1..5: the resident record through its services."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import ProtectedError
from PIL import Image

from emar.models import AuditEvent
from emar.services import DomainError
from residents import selectors, services
from residents.models import AllergyStatus, Resident, ResidentStatus, UnitMove
from tests.factories import UnitFactory
from tests.residents.factories import resident, valid_nhs_number


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "PNG")
    return buf.getvalue()


def _admit(unit, by, **kw):
    fields = {
        "full_name": "Iris Webb",
        "date_of_birth": dt.date(1938, 5, 2),
        "room": "4",
        "admitted_on": dt.date(2026, 2, 1),
        "nhs_number": valid_nhs_number(),
    }
    fields.update(kw)
    return services.resident_admit(home=unit.home, unit=unit, by=by, **fields)


def test_admission_records_the_first_move_and_an_audit_entry(unit_a, senior_a):
    person = _admit(unit_a, senior_a)
    assert UnitMove.objects.get(resident=person).to_unit == unit_a
    assert AuditEvent.objects.filter(action="resident.admitted", object_id=str(person.pk))
    assert person.allergy_status == AllergyStatus.UNKNOWN


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("script", [ARABIC_INDIC, FULL_WIDTH], ids=["arabic-indic", "full-width"])
def test_an_nhs_number_in_other_digits_is_the_same_number(unit_a, senior_a, script):
    number = valid_nhs_number()
    first = _admit(unit_a, senior_a, nhs_number=number)
    other = f"{number[:3]} {number[3:6]} {number[6:]}".translate(script)
    with pytest.raises(DomainError) as e:
        _admit(unit_a, senior_a, nhs_number=other, full_name="Iris Webb again")
    assert e.value.code == "nhs_number_duplicate"
    second = _admit(unit_a, senior_a, nhs_number=valid_nhs_number().translate(script))
    assert second.nhs_number.isascii() and second.nhs_number.isdigit()
    with pytest.raises(DomainError) as e:
        services.resident_update(resident=second, by=senior_a, nhs_number=other)
    assert e.value.code == "nhs_number_duplicate"
    assert Resident.objects.filter(nhs_number=number).get() == first


@pytest.mark.parametrize("junk", ["NaN", "💊💊💊", "943476591x", "nine four three"])
def test_junk_in_the_nhs_number_is_refused_not_dropped(unit_a, senior_a, junk):
    with pytest.raises(DomainError) as e:
        _admit(unit_a, senior_a, nhs_number=junk)
    assert e.value.code == "nhs_number_invalid"
    assert not Resident.objects.exists()


def test_residents_are_listed_in_natural_room_order(home_a, unit_a, senior_a):
    for room in ["B10", "Room 3", "10", "A2", "2", "A1", "1"]:
        resident(unit_a, senior_a, room=room)
    shown = [r.room for r in selectors.residents_of(home_a)]
    assert shown == ["1", "2", "10", "A1", "A2", "B10", "Room 3"]


def test_an_nhs_number_with_a_wrong_check_digit_is_refused(unit_a, senior_a):
    good = valid_nhs_number()
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    with pytest.raises(DomainError) as e:
        _admit(unit_a, senior_a, nhs_number=bad)
    assert e.value.code == "nhs_number_invalid"
    assert not Resident.objects.exists()


def test_an_nhs_number_is_stored_without_spaces_and_unique_in_the_home(unit_a, senior_a):
    number = valid_nhs_number()
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    assert _admit(unit_a, senior_a, nhs_number=spaced).nhs_number == number
    with pytest.raises(DomainError) as e:
        _admit(unit_a, senior_a, nhs_number=number, full_name="Someone Else")
    assert e.value.code == "nhs_number_duplicate"


def test_a_photo_is_checked_by_its_bytes_not_its_name(unit_a, senior_a):
    fake = SimpleUploadedFile("me.jpg", b"<html>not an image</html>", content_type="image/jpeg")
    with pytest.raises(DomainError) as e:
        _admit(unit_a, senior_a, photo=fake)
    assert e.value.code == "photo_type"


def test_a_photo_over_5_mb_is_refused(unit_a, senior_a):
    big = SimpleUploadedFile("big.png", png_bytes() + b"0" * (5 * 1024 * 1024))
    with pytest.raises(DomainError) as e:
        _admit(unit_a, senior_a, photo=big)
    assert e.value.code == "photo_too_large"


def test_a_photo_gets_an_unguessable_name(unit_a, senior_a):
    person = _admit(unit_a, senior_a, photo=SimpleUploadedFile("iris webb.png", png_bytes()))
    name = person.photo.name
    assert name.startswith("residents/photos/") and name.endswith(".png")
    assert "iris" not in name.lower() and len(name.rsplit("/", 1)[1]) == 36
    assert person.photo_content_type == "image/png"


def test_has_allergies_needs_the_list_and_none_known_cannot_hide_one(unit_a, senior_a):
    person = resident(unit_a, senior_a, allergy_status=AllergyStatus.UNKNOWN)
    with pytest.raises(DomainError) as e:
        services.allergy_status_set(
            resident=person, by=senior_a, status=AllergyStatus.HAS_ALLERGIES, reason="GP record"
        )
    assert e.value.code == "allergy_list_empty"
    services.allergy_add(
        resident=person,
        by=senior_a,
        substance="Penicillin",
        reaction="Rash",
        severity="moderate",
        reason="GP record",
    )
    with pytest.raises(DomainError) as e:
        services.allergy_status_set(
            resident=person, by=senior_a, status=AllergyStatus.NONE_KNOWN, reason="GP record"
        )
    assert e.value.code == "allergies_recorded"


def test_a_removed_allergy_is_kept_and_the_status_returns_to_unknown(unit_a, senior_a):
    person = resident(unit_a, senior_a, allergies=("Latex",))
    allergy = person.allergies.get()
    services.allergy_remove(
        allergy=allergy,
        by=senior_a,
        reason="Entered on the wrong person",
        new_status=AllergyStatus.UNKNOWN,
    )
    allergy.refresh_from_db()
    person.refresh_from_db()
    assert allergy.removed_at is not None and allergy.removed_reason
    assert person.allergy_status == AllergyStatus.UNKNOWN


def test_moves_are_kept_as_history(home_a, unit_a, senior_a):
    willow = UnitFactory(home=home_a, name="Willow")
    person = resident(unit_a, senior_a, room="3")
    services.resident_move(resident=person, by=senior_a, unit=willow, room="21")
    moves = list(UnitMove.objects.filter(resident=person))
    assert [(m.to_unit.name, m.to_room) for m in moves] == [("Oak", "3"), ("Willow", "21")]
    assert moves[1].from_unit == unit_a
    person.refresh_from_db()
    assert person.unit == willow and person.room == "21"


def test_a_move_to_another_homes_unit_is_refused(unit_a, unit_b, senior_a):
    person = resident(unit_a, senior_a)
    with pytest.raises(DomainError) as e:
        services.resident_move(resident=person, by=senior_a, unit=unit_b, room="1")
    assert e.value.code == "unit_other_home"


def test_leaving_keeps_the_record_readable_and_it_cannot_be_deleted(home_a, unit_a, senior_a):
    person = resident(unit_a, senior_a)
    services.resident_leave(
        resident=person, by=senior_a, status=ResidentStatus.DECEASED, on=home_a.local_today()
    )
    person.refresh_from_db()
    assert person.status == ResidentStatus.DECEASED and person.left_on == home_a.local_today()
    assert list(selectors.residents_of(home_a)) == []
    assert list(selectors.residents_of(home_a, current=False)) == [person]
    with pytest.raises(ProtectedError):
        person.delete()
    with pytest.raises(DomainError) as e:
        services.resident_move(resident=person, by=senior_a, unit=unit_a, room="9")
    assert e.value.code == "not_resident"


def test_leaving_cannot_be_dated_in_the_future(home_a, unit_a, senior_a):
    person = resident(unit_a, senior_a)
    with pytest.raises(DomainError) as e:
        services.resident_leave(
            resident=person,
            by=senior_a,
            status="discharged",
            on=home_a.local_today() + dt.timedelta(days=1),
        )
    assert e.value.code == "date_future"


def test_reconciliation_needs_sources_and_every_discrepancy_resolved(home_a, unit_a, senior_a):
    person = resident(unit_a, senior_a)
    rec = services.reconciliation_start(
        resident=person,
        by=senior_a,
        reason="admission",
        arrived_on=home_a.local_today(),
        sources=[],
    )
    with pytest.raises(DomainError) as e:
        services.reconciliation_complete(reconciliation=rec, by=senior_a)
    assert e.value.code == "sources_required"
    rec = services.reconciliation_start(
        resident=person,
        by=senior_a,
        reason="hospital_return",
        arrived_on=home_a.local_today(),
        sources=["discharge_letter", "previous_mar"],
    )
    item = services.discrepancy_add(
        reconciliation=rec, by=senior_a, description="Letter says bisoprolol 5mg, MAR says 2.5mg"
    )
    with pytest.raises(DomainError) as e:
        services.reconciliation_complete(reconciliation=rec, by=senior_a)
    assert e.value.code == "discrepancy_unresolved"
    services.discrepancy_resolve(
        discrepancy=item, by=senior_a, resolution="GP confirmed 5mg; MAR updated"
    )
    done = services.reconciliation_complete(reconciliation=rec, by=senior_a)
    assert done.completed_by == senior_a
    [row] = [r for r in selectors.reconciliation_report(home_a) if r.reconciliation == rec]
    assert row.hours is not None and 0 <= row.hours <= 24


def test_a_review_older_than_12_months_is_flagged(home_a, unit_a, senior_a):
    person = resident(unit_a, senior_a, admitted_on=dt.date(2024, 1, 10))
    today = home_a.local_today()
    services.review_record(
        resident=person,
        by=senior_a,
        held_on=today - dt.timedelta(days=370),
        participants="GP, pharmacist",
        outcome="Stop simvastatin",
    )
    assert selectors.reviews_overdue(home_a, today) == [person]
    services.review_record(
        resident=person,
        by=senior_a,
        held_on=today,
        participants="GP, resident",
        outcome="No change",
    )
    assert selectors.reviews_overdue(home_a, today) == []


def test_a_new_resident_is_not_flagged_until_12_months_after_admission(home_a, unit_a, senior_a):
    today = home_a.local_today()
    resident(unit_a, senior_a, admitted_on=today - dt.timedelta(days=30))
    assert selectors.reviews_overdue(home_a, today) == []
