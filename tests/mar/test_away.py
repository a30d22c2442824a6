"""Residents away and back (R-RES-6, H-16): away doses coded H/L exactly once by the job, no
escalation, stock untouched, held lines on return until a senior confirms each, readmission
keeping the history, and the audit's count of away doses."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from audits import metrics
from emar.models import AuditEvent, Notification
from emar.services import DomainError
from medications import selectors, services
from medications.models import (
    Administration,
    LineRestart,
    LineStatus,
    Outcome,
    ScheduledDose,
    StockMovement,
)
from medications.reminders import dose_reminders_sweep
from medications.tasks import away_doses_record as away_task
from residents import services as resident_services
from residents.models import Absence, Reconciliation, ResidentStatus
from tests.reminders.conftest import on_shift
from tests.residents.factories import resident as make_resident
from tests.residents.factories import valid_nhs_number

from .conftest import DAY, at_local, dose_at

pytestmark = pytest.mark.usefixtures("postgres")


def away(resident, by, hhmm="07:00", kind="hospital", day=DAY, **kw):
    return resident_services.resident_away_start(
        resident=resident,
        by=by,
        kind=kind,
        started_at=at_local(resident.home, day, hhmm),
        expected_return=day + dt.timedelta(days=3),
        **kw,
    )


def due_times(home, resident, day=DAY) -> list[str]:
    return [
        f"{d.at.astimezone(home.tz):%H:%M}"
        for d in selectors.doses_due(home=home, start=day, end=day, resident=resident)
    ]


@pytest.fixture
def in_hospital(home_a, resident_a, paracetamol, senior_a, clock):
    clock("06:00")
    dose_at(paracetamol, "08:00")
    clock("07:30")
    return away(resident_a, senior_a)


# --- Going away ------------------------------------------------------------------------------


def test_marking_away_is_on_the_audit_trail(in_hospital, home_a, senior_a):
    event = AuditEvent.objects.get(home=home_a, action="resident.away")
    assert event.actor == senior_a
    assert event.after["kind"] == "hospital"


def test_away_twice_is_refused_with_a_clear_message(in_hospital, resident_a, senior_a):
    with pytest.raises(DomainError, match="already away") as err:
        away(resident_a, senior_a, "07:10")
    assert err.value.code == "already_away"
    assert Absence.objects.filter(resident=resident_a).count() == 1


def test_away_for_a_discharged_resident_is_refused(resident_a, senior_a, clock):
    clock("09:00")
    resident_services.resident_leave(
        resident=resident_a, by=senior_a, status=ResidentStatus.DISCHARGED, on=DAY
    )
    with pytest.raises(DomainError, match="readmit them first") as err:
        away(resident_a, senior_a)
    assert err.value.code == "not_resident"
    assert not Absence.objects.exists()


def test_away_from_a_future_time_is_refused(resident_a, senior_a, clock):
    clock("06:00")
    with pytest.raises(DomainError) as err:
        away(resident_a, senior_a, "09:00")
    assert err.value.code == "date_future"


# --- While away: H/L exactly once, no escalation, stock stays ---------------------------------


def test_the_job_codes_each_open_dose_H_once_and_a_rerun_records_nothing(
    in_hospital, home_a, paracetamol, clock
):
    # Marking away coded the 08:00 dose at once only if its window was open (07:00-09:00).
    clock("08:05")
    first = away_task.delay(now=at_local(home_a, DAY, "08:05").isoformat()).get()
    again = away_task.delay(now=at_local(home_a, DAY, "08:05").isoformat()).get()
    records = Administration.objects.filter(line=paracetamol)
    assert first + again <= 1 and again == 0
    assert records.count() == 1
    record = records.get()
    assert (record.outcome, record.code.code) == (Outcome.NOT_GIVEN, "H")
    assert "in hospital since 25 Nov 2026 07:00" in record.note
    # The 20:00 dose's window is not open yet: nothing for it.
    assert not records.filter(dose__local_time=dt.time(20)).exists()


def test_leave_is_coded_L(home_a, resident_a, paracetamol, senior_a, clock):
    clock("06:00")
    dose_at(paracetamol, "08:00")
    clock("07:30")
    away(resident_a, senior_a, kind="leave")
    assert services.away_doses_record(now=at_local(home_a, DAY, "08:10")) == 0  # done at once
    assert Administration.objects.get(line=paracetamol).code.code == "L"


def test_a_crashed_job_rerun_codes_the_rest_and_nothing_twice(
    home_a, resident_a, paracetamol, senior_a, clock
):
    clock("06:00")
    dose_at(paracetamol, "08:00")
    clock("06:30")
    away(resident_a, senior_a, "06:30")
    assert services.away_doses_record(now=at_local(home_a, DAY, "06:45")) == 0  # not open yet
    clock("21:00")
    services.doses_sync(home=home_a, start=DAY, end=DAY)
    assert services.away_doses_record(now=at_local(home_a, DAY, "21:00")) == 2
    assert services.away_doses_record(now=at_local(home_a, DAY, "21:00")) == 0
    assert Administration.objects.filter(line=paracetamol, code__code="H").count() == 2


def test_away_doses_do_not_escalate_even_before_the_job_codes_them(
    home_a, unit_a, resident_a, paracetamol, senior_a, manager_a, clock
):
    clock("06:00")
    dose_at(paracetamol, "08:00")
    Absence.objects.create(  # straight into the table: the job has not run
        resident=resident_a,
        kind="hospital",
        started_at=at_local(home_a, DAY, "06:00"),
        expected_return=DAY,
        started_by=senior_a,
    )
    on_shift(senior_a, home_a, unit_a)
    dose_reminders_sweep(now=at_local(home_a, DAY, "09:05"))
    assert not Notification.objects.filter(kind="dose_missed").exists()
    assert not Administration.objects.exists()


def test_away_doses_leave_stock_untouched(in_hospital, home_a, paracetamol):
    before = StockMovement.objects.count()
    services.away_doses_record(now=at_local(home_a, DAY, "08:30"))
    assert StockMovement.objects.count() == before


def test_the_audit_counts_away_doses_as_neither_given_nor_gaps(
    home_a, resident_a, paracetamol, senior_a, clock
):
    clock("06:00")
    dose_at(paracetamol, "08:00")
    Absence.objects.create(  # the job never reached this dose: still not a gap
        resident=resident_a,
        kind="hospital",
        started_at=at_local(home_a, DAY, "06:00"),
        expected_return=DAY,
        started_by=senior_a,
    )
    clock("21:00")
    services.doses_sync(home=home_a, start=DAY, end=DAY)
    services.away_doses_record(now=at_local(home_a, DAY, "20:30"), resident=resident_a)
    # 08:00 coded H; 20:00 window still open at 20:30, and not coded at the time of the metrics
    month = DAY.replace(day=1)
    doses = metrics.compute(home_a, month, now=at_local(home_a, DAY, "23:00"))["doses"]
    assert doses["given"] == 0
    assert doses["gaps"] == 0
    assert doses["away"] == 2
    assert doses["not_given_by_category"]["absent"] == 2


# --- Coming back -----------------------------------------------------------------------------


def test_a_return_before_the_away_start_is_refused(in_hospital, home_a, senior_a):
    with pytest.raises(DomainError, match="before they left") as err:
        resident_services.resident_return(
            absence=in_hospital, by=senior_a, returned_at=at_local(home_a, DAY, "06:59")
        )
    assert err.value.code == "return_before_start"
    in_hospital.refresh_from_db()
    assert in_hospital.returned_at is None
    assert not Reconciliation.objects.exists()


def test_return_starts_a_reconciliation_and_holds_the_lines_until_a_senior_confirms(
    in_hospital, home_a, resident_a, paracetamol, senior_a, senior2_a, clock
):
    clock("12:00")
    back = resident_services.resident_return(
        absence=in_hospital,
        by=senior_a,
        returned_at=at_local(home_a, DAY, "11:30"),
        sources=["discharge_letter"],
    )
    rec = back.reconciliation
    assert (rec.reason, rec.sources) == ("hospital_return", ["discharge_letter"])
    assert AuditEvent.objects.filter(action="resident.returned").exists()
    # Held: the 20:00 dose is not due, and its materialised row is cancelled.
    assert due_times(home_a, resident_a) == ["08:00"]
    services.doses_sync(home=home_a, start=DAY, end=DAY)
    assert ScheduledDose.objects.get(line=paracetamol, local_time=dt.time(20)).is_cancelled
    assert [line for line, _ in services.lines_held(resident_a)] == [paracetamol]

    with pytest.raises(DomainError) as err:
        services.line_restart_confirm(line=paracetamol, by=senior_a, decision="maybe")
    assert err.value.code == "bad_decision"
    services.line_restart_confirm(line=paracetamol, by=senior2_a, decision="unchanged")
    assert due_times(home_a, resident_a) == ["08:00", "20:00"]
    services.doses_sync(home=home_a, start=DAY, end=DAY)
    assert not ScheduledDose.objects.get(line=paracetamol, local_time=dt.time(20)).is_cancelled
    assert services.lines_held(resident_a) == []
    with pytest.raises(DomainError) as err:
        services.line_restart_confirm(line=paracetamol, by=senior_a, decision="unchanged")
    assert err.value.code == "not_held"


def test_a_line_confirmed_stopped_is_stopped_with_the_reason(
    in_hospital, home_a, resident_a, paracetamol, senior_a, carer_a, clock
):
    clock("12:00")
    resident_services.resident_return(
        absence=in_hospital, by=senior_a, returned_at=at_local(home_a, DAY, "11:30")
    )
    with pytest.raises(DomainError) as err:
        services.line_restart_confirm(line=paracetamol, by=carer_a, decision="unchanged")
    assert err.value.code == "not_permitted"
    with pytest.raises(DomainError) as err:
        services.line_restart_confirm(line=paracetamol, by=senior_a, decision="stopped")
    assert err.value.code == "note_required"
    services.line_restart_confirm(
        line=paracetamol, by=senior_a, decision="stopped", note="Stopped in hospital"
    )
    paracetamol.refresh_from_db()
    assert paracetamol.status == LineStatus.STOPPED
    assert "Stopped in hospital" in paracetamol.stop_reason
    assert LineRestart.objects.get(line=paracetamol).decision == "stopped"


def test_doses_after_the_return_are_not_coded_by_the_job(
    in_hospital, home_a, paracetamol, senior_a, clock
):
    clock("12:00")
    resident_services.resident_return(
        absence=in_hospital, by=senior_a, returned_at=at_local(home_a, DAY, "11:30")
    )
    clock("20:30")
    services.away_doses_record(now=at_local(home_a, DAY, "20:30"))
    assert not Administration.objects.filter(dose__local_time=dt.time(20)).exists()


# --- Readmission (R-RES-6, R-RES-5) ----------------------------------------------------------


def test_a_discharged_resident_is_readmitted_to_the_same_record_with_lines_held(
    home_a, unit_a, senior_a, senior2_a, paracetamol, resident_a, clock
):
    nhs = valid_nhs_number()
    resident_services.resident_update(resident=resident_a, by=senior_a, nhs_number=nhs)
    clock("09:00", DAY - dt.timedelta(days=2))
    resident_services.resident_leave(
        resident=resident_a,
        by=senior_a,
        status=ResidentStatus.DISCHARGED,
        on=DAY - dt.timedelta(days=2),
    )
    with pytest.raises(DomainError, match="readmit that record") as err:
        make_resident(unit_a, senior_a, nhs_number=nhs)
    assert err.value.code == "nhs_number_duplicate"

    clock("09:00")
    back = resident_services.resident_readmit(
        resident=resident_a, by=senior_a, admitted_on=DAY, unit=unit_a, room="7"
    )
    assert (back.status, back.admitted_on, back.room, back.nhs_number) == (
        ResidentStatus.RESIDENT,
        DAY,
        "7",
        nhs,
    )
    assert back.moves.last().note == "Readmission"
    assert AuditEvent.objects.filter(action="resident.readmitted").exists()
    assert Reconciliation.objects.get(resident=back).reason == "admission"
    # The old line is held until a senior confirms it.
    assert due_times(home_a, back) == []
    services.line_restart_confirm(line=paracetamol, by=senior2_a, decision="unchanged")
    assert due_times(home_a, back) == ["20:00"]


def test_dying_in_hospital_ends_the_stay_so_nothing_is_coded_away_afterwards(
    in_hospital, home_a, unit_a, senior_a, resident_a, clock
):
    clock("09:00", DAY + dt.timedelta(days=1))
    with pytest.raises(DomainError, match="cannot be before that") as err:
        resident_services.resident_leave(
            resident=resident_a,
            by=senior_a,
            status=ResidentStatus.DISCHARGED,
            on=DAY - dt.timedelta(days=1),
        )
    assert err.value.code == "date_before_absence"
    in_hospital.refresh_from_db()
    assert in_hospital.is_open

    resident_services.resident_leave(
        resident=resident_a,
        by=senior_a,
        status=ResidentStatus.DISCHARGED,
        on=DAY + dt.timedelta(days=1),
    )
    in_hospital.refresh_from_db()
    assert (in_hospital.is_open, in_hospital.ended_by_leaving) == (False, True)
    assert in_hospital.returned_at == at_local(home_a, DAY + dt.timedelta(days=1), "00:00")
    assert not Reconciliation.objects.filter(absence=in_hospital).exists()

    # Readmitted later: not away, so the job codes none of their doses H.
    clock("09:00", DAY + dt.timedelta(days=3))
    resident_services.resident_readmit(
        resident=resident_a,
        by=senior_a,
        admitted_on=DAY + dt.timedelta(days=3),
        unit=unit_a,
        room="7",
    )
    assert not Absence.objects.filter(resident=resident_a, returned_at__isnull=True).exists()


def test_readmitting_a_current_resident_is_refused(resident_a, unit_a, senior_a, clock):
    clock("09:00")
    with pytest.raises(DomainError) as err:
        resident_services.resident_readmit(
            resident=resident_a, by=senior_a, admitted_on=DAY, unit=unit_a, room="7"
        )
    assert err.value.code == "already_resident"


# --- Screens (R-RES-6): bad input is a 4xx with the message, the round shows "away" ------------


def test_the_round_shows_an_away_resident_without_buttons(
    client, qualified, home_a, unit_a, in_hospital, carer_a, clock
):
    from tests.mar.test_round import round_url

    clock("08:05")
    client.force_login(carer_a)
    page = client.get(round_url(home_a, unit_a)).content.decode()
    assert "Away: in hospital" in page
    assert "Not given — H" in page
    assert 'value="given"' not in page


def test_the_away_screen_marks_away_and_refuses_away_twice(
    client, home_a, resident_a, senior_a, clock
):
    clock("09:00")
    client.force_login(senior_a)
    url = reverse("resident_away", args=[resident_a.pk])
    data = {
        "kind": "leave",
        "started_at": "2026-11-25T08:30",
        "expected_return": "2026-11-27",
        "note": "With her daughter",
    }
    response = client.post(url, {**data, "idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 302
    absence = Absence.objects.get(resident=resident_a)
    assert absence.started_at == at_local(home_a, DAY, "08:30")
    again = client.post(url, {**data, "idempotency_key": str(uuid.uuid4())})
    assert again.status_code == 400
    assert "already away" in again.content.decode()
    profile = client.get(reverse("medications:resident_profile", args=[resident_a.pk]))
    assert "Away: on leave" in profile.content.decode()


def test_the_return_screen_refuses_a_return_before_the_start_then_records_it(
    client, home_a, resident_a, in_hospital, senior_a, clock
):
    clock("12:00")
    client.force_login(senior_a)
    url = reverse("resident_return", args=[resident_a.pk])
    early = client.post(url, {"returned_at": "2026-11-25T06:00"})
    assert early.status_code == 400
    assert "cannot be before they left" in early.content.decode()
    ok = client.post(url, {"returned_at": "2026-11-25T11:00", "sources": ["discharge_letter"]})
    in_hospital.refresh_from_db()
    assert ok.status_code == 302
    assert ok["Location"] == reverse("reconciliation_detail", args=[in_hospital.reconciliation_id])
    page = client.get(reverse("medications:line_restarts", args=[resident_a.pk])).content
    assert b"Paracetamol 500mg tablets" in page
