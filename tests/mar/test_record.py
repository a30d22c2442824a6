"""Recording doses: one service for every path (R-MAR-2..13, H-2, H-6, H-10)."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from emar.models import Notification
from medications import services
from medications.models import Administration, PrnFollowUp
from medications.services import DoseError
from tests.mar.conftest import DAY, ONE, at_local, code, dose_at, key, prn_protocol
from training.services import TrainingGateError


def give(dose, by, **kw):
    kw.setdefault("idempotency_key", key())
    return services.administration_record(dose=dose, by=by, outcome="given", **kw)


def refuse(dose, by, letter="R", **kw):
    kw.setdefault("idempotency_key", key())
    return services.administration_record(
        dose=dose, by=by, outcome="not_given", code=code(dose.home, letter), **kw
    )


# --- one outcome per dose (R-MAR-2, R-MAR-5, H-2) -------------------------------------------


def test_a_given_dose_is_recorded_with_server_time_and_audit(
    clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    now = clock("08:10")
    record = give(dose, carer_a)
    assert record.outcome == "given" and record.quantity == ONE
    assert record.recorded_at == now and record.administered_at == now
    assert not record.late
    assert record.home.audit_events.filter(action="mar.dose.given").exists()


def test_second_submission_of_the_same_form_records_once(clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    same = key()
    first = give(dose, carer_a, idempotency_key=same)
    again = give(dose, carer_a, idempotency_key=same)
    assert first.pk == again.pk
    assert Administration.objects.count() == 1


def test_a_second_carer_sees_who_recorded_the_dose(
    clock, qualified, paracetamol, carer_a, senior_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    give(dose, carer_a)
    with pytest.raises(DoseError) as e:
        refuse(dose, senior_a)
    assert e.value.code == "already_recorded"
    assert str(carer_a) in e.value.message and "08:10" in e.value.message
    assert Administration.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_carers_recording_the_same_dose_at_once_make_one_record(
    postgres, clock, qualified, paracetamol, carer_a, senior_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    barrier = threading.Barrier(2)
    results: list[str] = []

    def record(person):
        try:
            barrier.wait()
            give(dose, person)
            results.append("recorded")
        except DoseError as e:
            results.append(e.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(p,)) for p in (carer_a, senior_a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already_recorded", "recorded"]
    assert Administration.objects.filter(dose=dose).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retried_submission_racing_itself_records_once(
    postgres, clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    same = key()
    barrier = threading.Barrier(2)
    ids: list[int] = []

    def record():
        try:
            barrier.wait()
            ids.append(give(dose, carer_a, idempotency_key=same).pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 2 and ids[0] == ids[1]
    assert Administration.objects.count() == 1


# --- time (R-MAR-3) ---------------------------------------------------------------------------


def test_a_record_after_the_window_is_a_late_entry_needing_a_reason(
    clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("09:30")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, administered_at=at_local(dose.home, DAY, "08:05"))
    assert e.value.code == "late_reason_required"
    record = give(
        dose,
        carer_a,
        administered_at=at_local(dose.home, DAY, "08:05"),
        late_reason="Recorded after the round: tablet battery died",
    )
    assert record.late and record.administered_at < record.recorded_at


def test_administration_time_cannot_be_in_the_future(clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, administered_at=at_local(dose.home, DAY, "08:30"))
    assert e.value.code == "future_time"


def test_administration_time_may_be_up_to_24_hours_back_but_no_further(
    clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "20:00", DAY - dt.timedelta(days=1))
    clock("20:31")
    with pytest.raises(DoseError) as e:
        give(
            dose,
            carer_a,
            administered_at=at_local(dose.home, DAY - dt.timedelta(days=2), "20:30"),
            late_reason="forgot",
        )
    assert e.value.code == "too_far_back"


def test_a_dose_cannot_be_given_before_its_window_opens(clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "20:00")
    clock("08:10")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a)
    assert e.value.code == "too_early"


# --- not given (R-MAR-6) -----------------------------------------------------------------------


def test_not_given_needs_a_code_of_this_home(clock, qualified, paracetamol, carer_a, home_b):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    for bad in (None, code(home_b, "R")):
        with pytest.raises(DoseError) as e:
            services.administration_record(
                dose=dose, by=carer_a, outcome="not_given", code=bad, idempotency_key=key()
            )
        assert e.value.code == "code_required"


def test_withheld_needs_a_note(clock, qualified, paracetamol, senior_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    with pytest.raises(DoseError) as e:
        refuse(dose, senior_a, "W")
    assert e.value.code == "note_required"
    assert refuse(dose, senior_a, "W", note="GP said hold while BP low").code.code == "W"


def test_asleep_can_be_retried_and_then_given(clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    asleep = refuse(dose, carer_a, "S")
    assert not asleep.final
    clock("08:50")
    given = give(dose, carer_a)
    assert given.final
    with pytest.raises(DoseError) as e:
        refuse(dose, carer_a)
    assert e.value.code == "already_recorded"


def test_not_given_needs_training_too(clock, paracetamol, carer_a):
    """R-MAR-13: any outcome, given or not given, needs in-date training and competency."""
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    with pytest.raises(TrainingGateError):
        refuse(dose, carer_a, "H")
    assert not Administration.objects.exists()


# --- training gate (R-MAR-13, H-6) ---------------------------------------------------------------


def test_untrained_staff_cannot_record_a_given_dose(clock, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    with pytest.raises(TrainingGateError) as e:
        give(dose, carer_a)
    assert e.value.code == "training_missing"
    assert not Administration.objects.exists()


def test_an_inspector_cannot_record(clock, qualified, paracetamol, inspector_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    with pytest.raises(DoseError) as e:
        give(dose, inspector_a)
    assert e.value.code == "not_allowed"


# --- controlled drugs (R-MAR-9, H-5) ----------------------------------------------------------


@pytest.fixture
def oxycodone(make_line):
    return make_line("Oxycodone 10mg capsules", dose_unit="capsule")


def test_cd_dose_needs_a_witness(clock, qualified, oxycodone, carer_a, senior_a):
    dose = dose_at(oxycodone, "08:00")
    clock("08:10")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a)
    assert e.value.code == "witness_required"
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, witness=carer_a)
    assert e.value.code == "witness_same_person"
    record = give(dose, carer_a, witness=senior_a)
    assert record.witness == senior_a


def test_cd_witness_must_have_cd_competency(clock, oxycodone, carer_a, senior_a, home_a):
    from tests.training.factories import qualify

    qualify(carer_a, home_a)
    qualify(senior_a, home_a, categories=["oral"])
    dose = dose_at(oxycodone, "08:00")
    clock("08:10")
    with pytest.raises(TrainingGateError) as e:
        give(dose, carer_a, witness=senior_a)
    assert e.value.code == "competency_missing"


def test_cd_witness_must_work_in_the_home(clock, qualified, oxycodone, carer_a, carer_b):
    dose = dose_at(oxycodone, "08:00")
    clock("08:10")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, witness=carer_b)
    assert e.value.code == "witness_not_staff"


# --- corrections (R-MAR-4, H-9) -----------------------------------------------------------------


def test_a_correction_is_a_new_record_pointing_at_the_original(
    clock, qualified, paracetamol, carer_a, senior_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    wrong = refuse(dose, carer_a)
    clock("08:30")
    fixed = services.administration_correct(
        original=wrong,
        by=senior_a,
        reason="Tapped refused by mistake; she took it with breakfast",
        idempotency_key=key(),
        outcome="given",
        quantity=ONE,
    )
    wrong.refresh_from_db()
    assert fixed.corrects == wrong and wrong.outcome == "not_given"  # the original is untouched
    assert Administration.objects.filter(dose=dose).count() == 2
    with pytest.raises(DoseError) as e:
        services.administration_correct(
            original=wrong,
            by=senior_a,
            reason="again",
            idempotency_key=key(),
            outcome="given",
            quantity=ONE,
        )
    assert e.value.code == "already_corrected"


def test_only_the_recorder_or_a_senior_may_correct(
    clock, qualified, paracetamol, senior_a, carer_a, home_a
):
    from tests.factories import staff

    other = staff(home_a, "carer", username="other_carer")
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    record = give(dose, carer_a)
    with pytest.raises(DoseError) as e:
        services.administration_correct(
            original=record,
            by=other,
            reason="x",
            idempotency_key=key(),
            outcome="not_given",
            code=code(home_a, "R"),
        )
    assert e.value.code == "correction_not_allowed"
    with pytest.raises(DoseError) as e:
        services.administration_correct(
            original=record,
            by=senior_a,
            reason="  ",
            idempotency_key=key(),
            outcome="not_given",
            code=code(home_a, "R"),
        )
    assert e.value.code == "correction_reason_required"


# --- refusals (R-MAR-7) -----------------------------------------------------------------------


def test_three_refusals_in_a_row_ask_the_senior_for_a_prescriber_review_once(
    clock, qualified, paracetamol, carer_a, senior_a
):
    for day in (DAY - dt.timedelta(days=1), DAY):
        for hhmm in ("08:00", "20:00"):
            dose_at(paracetamol, hhmm, day)
    clock("08:10", DAY - dt.timedelta(days=1))
    refuse(dose_at(paracetamol, "08:00", DAY - dt.timedelta(days=1)), carer_a)
    clock("20:10", DAY - dt.timedelta(days=1))
    refuse(dose_at(paracetamol, "20:00", DAY - dt.timedelta(days=1)), carer_a)
    assert not Notification.objects.filter(kind="refusals").exists()
    clock("08:10")
    refuse(dose_at(paracetamol, "08:00"), carer_a)
    clock("20:10")
    refuse(dose_at(paracetamol, "20:00"), carer_a)  # a fourth: same run, no second task
    tasks = Notification.objects.filter(kind="refusals")
    assert tasks.filter(recipient=senior_a).count() == 1
    assert "refused 3 times" in tasks.first().title


def test_a_dose_taken_breaks_the_run_of_refusals(clock, qualified, paracetamol, carer_a):
    clock("08:10", DAY - dt.timedelta(days=1))
    refuse(dose_at(paracetamol, "08:00", DAY - dt.timedelta(days=1)), carer_a)
    clock("20:10", DAY - dt.timedelta(days=1))
    give(dose_at(paracetamol, "20:00", DAY - dt.timedelta(days=1)), carer_a)
    clock("08:10")
    refuse(dose_at(paracetamol, "08:00"), carer_a)
    assert not Notification.objects.filter(kind="refusals").exists()


# --- PRN (R-MAR-8) ----------------------------------------------------------------------------


@pytest.fixture
def prn(make_line, senior_a):
    live = make_line("Paracetamol 500mg tablets", prn=True, dose=Decimal(1), dose_max=Decimal(2))
    prn_protocol(live, senior_a, interval=240, max_24h=2)
    return live


def give_prn(line, by, **kw):
    kw.setdefault("idempotency_key", key())
    kw.setdefault("prn_reason", "Says her knee hurts")
    kw.setdefault("quantity", ONE)
    return services.administration_record(line=line, by=by, outcome="given", **kw)


def test_prn_needs_a_reason_and_a_quantity_in_range(clock, qualified, prn, carer_a):
    clock("08:00")
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a, prn_reason=" ")
    assert e.value.code == "prn_reason_required"
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a, quantity=Decimal(3))
    assert e.value.code == "quantity_out_of_range"
    assert give_prn(prn, carer_a, quantity=Decimal(2)).quantity == 2


def test_prn_without_a_protocol_cannot_be_given(clock, qualified, make_line, carer_a):
    bare = make_line(prn=True)
    clock("08:00")
    with pytest.raises(DoseError) as e:
        give_prn(bare, carer_a)
    assert e.value.code == "prn_protocol_required"


def test_prn_minimum_interval_is_enforced_unless_a_second_senior_overrides(
    clock, qualified, prn, carer_a, senior_a
):
    clock("08:00")
    give_prn(prn, carer_a)
    clock("10:00")
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a)
    assert e.value.code == "prn_interval"
    advice = {
        "prn_advised_by_role": "gp",
        "prn_adviser_name": "Dr Shah",
        "prn_advised_at": at_local(prn.home, DAY, "09:50"),
    }
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a, prn_override_by=carer_a, prn_override_reason="sore", **advice)
    assert e.value.code == "second_senior_same_person"
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a, prn_override_by=senior_a, prn_override_reason="", **advice)
    assert e.value.code == "override_reason_required"
    record = give_prn(
        prn, carer_a, prn_override_by=senior_a, prn_override_reason="GP agreed by phone", **advice
    )
    assert record.prn_override_by == senior_a and record.prn_adviser_name == "Dr Shah"


def test_prn_rolling_24_hour_maximum(clock, qualified, prn, carer_a):
    clock("08:00", DAY - dt.timedelta(days=1))
    give_prn(prn, carer_a)
    clock("20:00", DAY - dt.timedelta(days=1))
    give_prn(prn, carer_a)
    clock("07:59")
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a)
    assert e.value.code == "prn_max_24h"
    clock("08:01")  # the first dose has left the rolling 24 hours
    assert give_prn(prn, carer_a).pk


def test_prn_follow_up_is_recorded_once(clock, qualified, prn, carer_a):
    clock("08:00")
    record = give_prn(prn, carer_a)
    clock("09:00")
    with pytest.raises(DoseError) as e:
        services.prn_follow_up_record(administration=record, by=carer_a, effectiveness="partly")
    assert e.value.code == "note_required"
    services.prn_follow_up_record(administration=record, by=carer_a, effectiveness="effective")
    with pytest.raises(DoseError) as e:
        services.prn_follow_up_record(administration=record, by=carer_a, effectiveness="effective")
    assert e.value.code == "already_recorded"
    assert PrnFollowUp.objects.count() == 1


def test_a_regular_line_is_not_given_without_its_scheduled_dose(
    clock, qualified, paracetamol, carer_a
):
    clock("08:00")
    with pytest.raises(DoseError) as e:
        services.administration_record(
            line=paracetamol, by=carer_a, outcome="given", idempotency_key=key()
        )
    assert e.value.code == "no_dose"


# --- patches and topicals (R-MAR-10) -----------------------------------------------------------


@pytest.fixture
def patch(make_line):
    from tests.medications.factories import times

    return make_line(
        "Hyoscine 1mg/72hours transdermal patches",
        dose_unit="patch",
        route="transdermal",
        schedule=times("08:00"),
    )


def test_patch_records_the_site_then_suggests_another_and_asks_about_the_old_one(
    clock, qualified, patch, carer_a
):
    clock("08:05", DAY - dt.timedelta(days=1))
    first_dose = dose_at(patch, "08:00", DAY - dt.timedelta(days=1))
    with pytest.raises(DoseError) as e:
        give(first_dose, carer_a)
    assert e.value.code == "body_site_required"
    give(first_dose, carer_a, body_site="Left upper arm")
    last, suggestion = services.patch_site_suggestion(patch)
    assert last == "Left upper arm" and suggestion != last
    clock("08:05")
    dose = dose_at(patch, "08:00")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, body_site=suggestion)
    assert e.value.code == "old_patch_not_confirmed"
    assert give(dose, carer_a, body_site=suggestion, old_patch_removed=True).body_site == suggestion


# --- covert (R-RX-8) --------------------------------------------------------------------------


def test_covert_needs_the_plan(clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, covert=True)
    assert e.value.code == "covert_plan_required"


# --- stopped lines (R-RX-10) --------------------------------------------------------------------


def test_a_stopped_line_cannot_be_recorded(clock, qualified, paracetamol, carer_a, senior_a):
    dose = dose_at(paracetamol, "20:00")
    clock("12:00")
    services.line_stop(line=paracetamol, by=senior_a, reason="Stopped by GP", authorised_by="Dr A")
    clock("20:05")
    dose.refresh_from_db()
    with pytest.raises(DoseError) as e:
        give(dose, carer_a)
    assert e.value.code in ("line_not_live", "dose_cancelled")


# Homely remedies (R-MAR-11): tests/mar/test_homely_remedy.py


def test_every_competency_the_line_needs_is_checked(clock, oxycodone, carer_a, senior_a, home_a):
    """An oral CD needs the oral and the controlled-drugs competency (R-TRN-3)."""
    from tests.training.factories import qualify

    qualify(carer_a, home_a, categories=["oral"])
    qualify(senior_a, home_a)
    dose = dose_at(oxycodone, "08:00")
    clock("08:10")
    with pytest.raises(TrainingGateError) as e:
        give(dose, carer_a, witness=senior_a)
    assert e.value.code == "competency_missing" and "controlled drugs" in e.value.message


def test_refusal_alert_skips_deactivated_accounts_and_ended_roles(
    clock, qualified, paracetamol, carer_a, senior_a, senior2_a, manager_a
):
    """R-MAR-7, R-ORG-2: with no senior on shift every senior and manager of the home is told,
    but not a deactivated account nor someone whose role at the home has ended."""
    type(senior2_a).objects.filter(pk=senior2_a.pk).update(is_active=False)
    manager_a.memberships.filter(home=paracetamol.resident.home).update(active=False)
    for day in (DAY - dt.timedelta(days=1), DAY):
        for hhmm in ("08:00", "20:00"):
            dose_at(paracetamol, hhmm, day)
    for hhmm, day in (("08:00", DAY - dt.timedelta(days=1)), ("20:00", DAY - dt.timedelta(days=1))):
        clock(hhmm.replace(":00", ":10"), day)
        refuse(dose_at(paracetamol, hhmm, day), carer_a)
    clock("08:10")
    refuse(dose_at(paracetamol, "08:00"), carer_a)
    told = set(Notification.objects.filter(kind="refusals").values_list("recipient", flat=True))
    assert told == {senior_a.pk}
