"""Allergy changes never take a medicine off the round, need a reason, tell the seniors on
shift, and re-check every live line (R-RES-2, R-MAR-16, R-RX-11, H-4, H-11)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from emar.models import AuditEvent, Notification
from emar.services import DomainError, shift_start
from medications import selectors, services
from medications.models import LineAllergyMatch, PrescriptionLine, ScheduledDose
from residents import services as resident_services
from residents.models import AllergyStatus, AllergyStatusChange
from tests.mar.conftest import DAY, prn_protocol


def _doses_today(line):
    services.doses_sync(home=line.home, start=DAY, end=DAY)
    return ScheduledDose.objects.filter(line=line, local_date=DAY).order_by("due_at")


def _add(resident, by, substance, **kw):
    return resident_services.allergy_add(
        resident=resident, by=by, substance=substance, reason=kw.pop("reason", "GP record"), **kw
    )


# --- Point of care: no status change removes a dose (R-RES-2, R-MAR-16, H-11) ------------------


def test_status_set_back_to_unknown_keeps_every_dose_due_and_uncancelled(
    clock, paracetamol, resident_a, senior_a
):
    clock("06:00")
    assert _doses_today(paracetamol).filter(cancelled_at__isnull=True).count() == 2
    resident_services.allergy_status_set(
        resident=resident_a,
        by=senior_a,
        status=AllergyStatus.UNKNOWN,
        reason="Family unsure about a reaction to plasters",
    )
    doses = _doses_today(paracetamol)
    assert [d.cancelled_at for d in doses] == [None, None]
    due = selectors.doses_due(home=resident_a.home, start=DAY, end=DAY)
    assert [d.line.pk for d in due] == [paracetamol.pk, paracetamol.pk]


def test_removing_the_last_allergy_asks_for_the_new_status_and_keeps_the_doses(
    clock, paracetamol, resident_a, senior_a
):
    clock("06:00")
    latex = _add(resident_a, senior_a, "Latex")
    with pytest.raises(DomainError) as e:
        resident_services.allergy_remove(allergy=latex, by=senior_a, reason="Wrong resident")
    assert e.value.code == "allergy_new_status_required"
    latex.refresh_from_db()
    assert latex.removed_at is None  # nothing half-written
    resident_services.allergy_remove(
        allergy=latex, by=senior_a, reason="Wrong resident", new_status=AllergyStatus.UNKNOWN
    )
    resident_a.refresh_from_db()
    assert resident_a.allergy_status == AllergyStatus.UNKNOWN
    assert [d.cancelled_at for d in _doses_today(paracetamol)] == [None, None]


def test_removing_one_of_two_allergies_keeps_has_allergies(resident_a, senior_a, clock):
    latex = _add(resident_a, senior_a, "Latex")
    _add(resident_a, senior_a, "Elastoplast")
    with pytest.raises(DomainError) as e:
        resident_services.allergy_remove(
            allergy=latex, by=senior_a, reason="Error", new_status=AllergyStatus.UNKNOWN
        )
    assert e.value.code == "allergies_recorded"
    resident_services.allergy_remove(allergy=latex, by=senior_a, reason="Error")
    resident_a.refresh_from_db()
    assert resident_a.allergy_status == AllergyStatus.HAS_ALLERGIES


def test_a_prn_line_stays_offered_when_the_status_becomes_unknown(
    clock, make_line, resident_a, senior_a
):
    prn = make_line(prn=True, dose=Decimal(1))
    prn_protocol(prn, senior_a)
    resident_services.allergy_status_set(
        resident=resident_a, by=senior_a, status=AllergyStatus.UNKNOWN, reason="Records lost"
    )
    assert list(selectors.prn_lines(home=resident_a.home)) == [prn]


def test_every_status_change_needs_a_reason_which_is_stored_and_audited(
    resident_a, senior_a, clock
):
    for reason in ("", "   "):
        with pytest.raises(DomainError) as e:
            resident_services.allergy_status_set(
                resident=resident_a, by=senior_a, status=AllergyStatus.UNKNOWN, reason=reason
            )
        assert e.value.code == "reason_required"
    with pytest.raises(DomainError) as e:
        _add(resident_a, senior_a, "Latex", reason="")
    assert e.value.code == "reason_required"
    resident_a.refresh_from_db()
    assert resident_a.allergy_status == AllergyStatus.NONE_KNOWN
    assert not resident_a.allergies.exists()

    resident_services.allergy_status_set(
        resident=resident_a, by=senior_a, status=AllergyStatus.UNKNOWN, reason="Records lost"
    )
    _add(resident_a, senior_a, "Latex", reason="Discharge letter")
    changes = list(AllergyStatusChange.objects.filter(resident=resident_a).order_by("pk"))
    assert [(c.from_status, c.to_status, c.reason) for c in changes] == [
        ("none_known", "unknown", "Records lost"),
        ("unknown", "has_allergies", "Discharge letter"),
    ]
    event = AuditEvent.objects.filter(action="allergy.status_set").get()
    assert event.after == {"allergy_status": "unknown", "reason": "Records lost"}
    assert AuditEvent.objects.get(action="allergy.added").after["reason"] == "Discharge letter"


def test_seniors_on_shift_are_told_once_when_the_status_becomes_unknown(
    home_a, unit_a, resident_a, senior_a, senior2_a, carer_a, clock
):
    shift_start(user=senior_a, home=home_a, unit=unit_a)
    shift_start(user=carer_a, home=home_a, unit=unit_a)
    resident_services.allergy_status_set(
        resident=resident_a, by=senior2_a, status=AllergyStatus.UNKNOWN, reason="Records lost"
    )
    # The same status again changes nothing and tells no one again.
    resident_services.allergy_status_set(
        resident=resident_a, by=senior2_a, status=AllergyStatus.UNKNOWN, reason="Again"
    )
    told = Notification.objects.filter(kind="allergy_unknown")
    assert [n.recipient for n in told] == [senior_a]  # the senior on shift, not the carer
    assert "a senior must resolve it" in told.get().title and told.get().urgent


def test_with_no_senior_on_shift_every_senior_and_manager_is_told(
    resident_a, senior_a, senior2_a, manager_a, clock
):
    resident_services.allergy_status_set(
        resident=resident_a, by=senior_a, status=AllergyStatus.UNKNOWN, reason="Records lost"
    )
    told = {n.recipient for n in Notification.objects.filter(kind="allergy_unknown")}
    assert told == {senior_a, senior2_a, manager_a}


# --- Re-check of live lines when an allergy is added (R-RX-11) -----------------------------------


def test_adding_an_allergy_flags_each_matching_live_line_and_tells_the_seniors_once(
    home_a, unit_a, make_line, paracetamol, resident_a, senior_a, clock
):
    amoxicillin = make_line(name="Amoxicillin 500mg capsules", dose_unit="capsule")
    shift_start(user=senior_a, home=home_a, unit=unit_a)
    penicillin = _add(resident_a, senior_a, "Penicillin", reaction="Rash", severity="moderate")
    matches = list(LineAllergyMatch.objects.all())
    assert [(m.line, m.allergy) for m in matches] == [(amoxicillin, penicillin)]
    assert matches[0].notified_at is not None
    told = Notification.objects.filter(kind="allergy_match")
    assert told.count() == 1 and told.get().recipient == senior_a
    assert "Amoxicillin" in told.get().title and "Penicillin" in told.get().title
    # Another allergy re-checks again: the known match is neither stored nor told twice.
    _add(resident_a, senior_a, "Latex")
    assert LineAllergyMatch.objects.count() == 1
    assert Notification.objects.filter(kind="allergy_match").count() == 1
    assert AuditEvent.objects.filter(action="allergy.lines_matched").count() == 1


def test_the_recheck_matches_by_ingredient_and_class(make_line, resident_a, senior_a, clock):
    cocodamol = make_line(name="Co-codamol 30mg/500mg tablets")
    _add(resident_a, senior_a, "Codeine")
    assert LineAllergyMatch.objects.get().line == cocodamol


def test_a_removed_allergy_no_longer_flags_the_line(make_line, resident_a, senior_a, clock):
    amoxicillin = make_line(name="Amoxicillin 500mg capsules", dose_unit="capsule")
    penicillin = _add(resident_a, senior_a, "Penicillin")

    def current():
        return (
            PrescriptionLine.objects.filter(pk=amoxicillin.pk)
            .prefetch_related(selectors.allergy_matches_prefetch())
            .get()
            .current_allergy_matches
        )

    assert [m.allergy for m in current()] == [penicillin]
    resident_services.allergy_remove(
        allergy=penicillin, by=senior_a, reason="Wrong resident", new_status="none_known"
    )
    assert current() == []
    assert LineAllergyMatch.objects.count() == 1  # the history is kept


def test_a_line_checked_with_an_allergy_override_carries_the_match(
    resident_a, senior_a, senior2_a, clock
):
    from tests.medications.factories import line

    codeine = _add(resident_a, senior_a, "Codeine")
    checked = line(
        resident_a,
        senior_a,
        checker=senior2_a,
        name="Co-codamol 30mg/500mg tablets",
        allergy_override_reason="GP: nausea only, not an allergy",
    )
    assert LineAllergyMatch.objects.get().allergy == codeine
    assert LineAllergyMatch.objects.get().line == checked
