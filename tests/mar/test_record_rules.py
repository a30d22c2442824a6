"""Clinical rules at the edges of recording, all in the one recording service: PRN limits from
the directions and overrides (R-MAR-8, R-RX-6, H-12), quantity (R-MAR-15), time and window
(R-MAR-3, R-MAR-14), corrections and voids (R-MAR-4, H-17), the gate on every outcome
(R-MAR-13) and the allergy confirmation (R-MAR-16)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from emar.services import DomainError
from medications import rounds, services
from medications.forms.rounds import most_recent_past
from medications.models import Administration, Stock
from medications.reminders import _recorded
from medications.services import DoseError
from residents.services import allergy_add
from tests.mar.conftest import DAY, ONE, at_local, code, dose_at, key, prn_protocol
from tests.medications.factories import times
from training.services import TrainingGateError

TWO = Decimal(2)


def give(dose, by, **kw):
    kw.setdefault("idempotency_key", key())
    return services.administration_record(dose=dose, by=by, outcome="given", **kw)


def not_given(dose, by, letter="R", **kw):
    kw.setdefault("idempotency_key", key())
    return services.administration_record(
        dose=dose, by=by, outcome="not_given", code=code(dose.home, letter), **kw
    )


def correct(original, by, outcome, **kw):
    kw.setdefault("idempotency_key", key())
    kw.setdefault("reason", "Wrong button")
    return services.administration_correct(original=original, by=by, outcome=outcome, **kw)


def give_prn(line, by, **kw):
    kw.setdefault("idempotency_key", key())
    kw.setdefault("prn_reason", "Says her knee hurts")
    kw.setdefault("quantity", ONE)
    return services.administration_record(line=line, by=by, outcome="given", **kw)


@pytest.fixture
def night(make_line):
    """One tablet at 22:00 (window 21:00 to 23:00)."""
    return make_line("Paracetamol 500mg tablets", schedule=times("22:00"))


def advice(home, hhmm="09:50", role="gp"):
    return {
        "prn_advised_by_role": role,
        "prn_adviser_name": "Dr Shah",
        "prn_advised_at": at_local(home, DAY, hhmm),
    }


# --- PRN limits from the directions (R-RX-6, R-MAR-8, H-12) ----------------------------------


def test_a_prn_line_needs_the_prescribers_limits(resident_a, senior_a, clock):
    from tests.medications.factories import line

    with pytest.raises(DomainError) as e:
        line(resident_a, senior_a, prn=True, prn_min_interval_minutes=None)
    assert e.value.code == "prn_limits_required"


def test_a_protocol_may_be_stricter_than_the_directions_never_looser(make_line, senior_a, clock):
    prn = make_line(prn=True, prn_min_interval_minutes=360, prn_max_doses_24h=3)
    with pytest.raises(DomainError) as e:
        prn_protocol(prn, senior_a, interval=240, max_24h=3)
    assert e.value.code == "prn_protocol_less_strict"
    with pytest.raises(DomainError) as e:
        prn_protocol(prn, senior_a, interval=360, max_24h=4)
    assert e.value.code == "prn_protocol_less_strict"
    assert prn_protocol(prn, senior_a, interval=480, max_24h=2).pk
    assert services.prn_limits(prn) == (480, 2)


def test_prn_interval_comes_from_the_directions(clock, qualified, make_line, senior_a, carer_a):
    prn = make_line(prn=True, prn_min_interval_minutes=360, prn_max_doses_24h=4)
    prn_protocol(prn, senior_a, interval=360, max_24h=4)
    clock("08:00")
    give_prn(prn, carer_a)
    clock("13:00")  # 5 hours: a 4-hour protocol would allow it, the directions do not
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a)
    assert e.value.code == "prn_interval"
    clock("14:00")
    assert give_prn(prn, carer_a).prn_override_by is None


@pytest.fixture
def prn(make_line, senior_a):
    live = make_line(prn=True, dose=ONE, dose_max=TWO, prn_max_doses_24h=4)
    prn_protocol(live, senior_a, interval=240, max_24h=4)
    return live


def test_an_override_needs_the_clinical_advice(clock, qualified, prn, carer_a, senior_a):
    clock("08:00")
    give_prn(prn, carer_a)
    clock("10:00")
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a, prn_override_by=senior_a, prn_override_reason="GP said so")
    assert e.value.code == "override_advice_required"
    with pytest.raises(DoseError) as e:
        give_prn(
            prn,
            carer_a,
            prn_override_by=senior_a,
            prn_override_reason="GP said so",
            **advice(prn.home, "10:30"),
        )
    assert e.value.code == "override_advice_time"
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a, prn_override_reason="GP said so", **advice(prn.home))
    assert e.value.code == "second_senior_required"


def test_a_senior_cannot_override_for_a_dose_they_give_themselves(
    clock, qualified, prn, senior_a, senior2_a, carer_a
):
    clock("08:00")
    give_prn(prn, senior_a)
    clock("10:00")
    ok = {"prn_override_reason": "111 advised a second dose", **advice(prn.home, role="nhs111")}
    with pytest.raises(DoseError) as e:
        give_prn(prn, senior_a, prn_override_by=senior_a, **ok)
    assert e.value.code == "second_senior_same_person"
    with pytest.raises(DoseError) as e:
        give_prn(prn, senior_a, prn_override_by=carer_a, **ok)
    assert e.value.code == "second_senior_not_senior"
    record = give_prn(prn, senior_a, prn_override_by=senior2_a, **ok)
    assert (record.prn_override_by, record.prn_advised_by_role) == (senior2_a, "nhs111")
    assert record.home.audit_events.filter(action="mar.prn.given").count() == 2


def test_an_override_past_the_24_hour_maximum(clock, qualified, make_line, senior_a, carer_a):
    prn = make_line(prn=True, prn_min_interval_minutes=60, prn_max_doses_24h=2)
    prn_protocol(prn, senior_a, interval=60, max_24h=2)
    clock("06:00")
    give_prn(prn, carer_a)
    clock("08:00")
    give_prn(prn, carer_a)
    clock("10:00")
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a)
    assert e.value.code == "prn_max_24h"
    record = give_prn(
        prn, carer_a, prn_override_by=senior_a, prn_override_reason="OOH", **advice(prn.home)
    )
    assert record.prn_override_by == senior_a


def test_no_override_is_recorded_when_no_limit_is_passed(clock, qualified, prn, carer_a, senior_a):
    clock("08:00")
    record = give_prn(prn, carer_a, prn_override_by=senior_a, prn_override_reason="x")
    assert record.prn_override_by is None and record.prn_override_reason == ""


# --- quantity (R-MAR-15) ------------------------------------------------------------------------


def test_a_fixed_dose_records_the_prescribed_quantity_or_a_reason(
    clock, qualified, paracetamol, night, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    for bad, expected in (
        (Decimal(4), "quantity_reason_required"),
        (Decimal(0), "quantity_not_positive"),
        (Decimal(-1), "quantity_not_positive"),
        (Decimal(50), "quantity_absurd"),
    ):
        with pytest.raises(DoseError) as e:
            give(dose, carer_a, quantity=bad)
        assert e.value.code == expected, bad
    record = give(dose, carer_a, quantity=Decimal("0.5"), quantity_reason="Half: GP letter")
    assert record.quantity_reason == "Half: GP letter"
    clock("22:00")
    same = give(dose_at(night, "22:00"), carer_a, quantity=ONE, quantity_reason="x")
    assert same.quantity_reason == ""  # the prescribed amount needs no reason


def test_a_range_line_accepts_only_within_the_range(clock, qualified, prn, carer_a):
    clock("08:00")
    with pytest.raises(DoseError) as e:
        give_prn(prn, carer_a, quantity=Decimal(3), quantity_reason="she asked")
    assert e.value.code == "quantity_out_of_range"
    assert give_prn(prn, carer_a, quantity=Decimal("1.5")).quantity == Decimal("1.5")


def test_a_correction_is_held_to_the_quantity_rule(clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    record = give(dose, carer_a)
    with pytest.raises(DoseError) as e:
        correct(record, carer_a, "given", quantity=Decimal(4))
    assert e.value.code == "quantity_reason_required"


# --- time and window (R-MAR-3, R-MAR-14) --------------------------------------------------------


def test_not_given_is_refused_before_the_window_opens(clock, qualified, night, carer_a):
    dose = dose_at(night, "22:00")
    clock("02:29")
    with pytest.raises(DoseError) as e:
        not_given(dose, carer_a, "R")
    assert e.value.code == "not_given_too_early"
    clock("20:59")
    with pytest.raises(DoseError) as e:
        not_given(dose, carer_a, "R")
    assert e.value.code == "not_given_too_early"
    clock("21:00")
    assert not_given(dose, carer_a, "R").code.code == "R"


def test_hospital_or_leave_may_be_recorded_ahead_for_the_same_day(clock, qualified, night, carer_a):
    tomorrow = dose_at(night, "22:00", DAY + dt.timedelta(days=1))
    dose = dose_at(night, "22:00")
    clock("09:00")
    assert not_given(dose, carer_a, "H").code.code == "H"
    with pytest.raises(DoseError) as e:
        not_given(tomorrow, carer_a, "L")
    assert e.value.code == "absence_not_today"


def test_a_late_entry_after_midnight_keeps_yesterdays_time(clock, qualified, night, carer_a):
    dose = dose_at(night, "22:00")
    clock("00:30", DAY + dt.timedelta(days=1))
    at = at_local(dose.home, DAY, "22:10")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, administered_at=at)
    assert e.value.code == "late_reason_required"
    record = give(dose, carer_a, administered_at=at, late_reason="Tablet was flat")
    assert record.administered_at == at and record.late
    assert record.administered_at.astimezone(dose.home.tz).date() == DAY


def test_the_time_given_is_never_before_the_window_nor_in_the_future(
    clock, qualified, night, carer_a
):
    dose = dose_at(night, "22:00")
    clock("22:05")
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, administered_at=at_local(dose.home, DAY, "20:59"))
    assert e.value.code == "too_early"
    with pytest.raises(DoseError) as e:
        not_given(dose, carer_a, "R", administered_at=at_local(dose.home, DAY, "20:59"))
    assert e.value.code == "before_window"
    with pytest.raises(DoseError) as e:
        give(dose, carer_a, administered_at=at_local(dose.home, DAY, "22:07"))
    assert e.value.code == "future_time"
    assert give(dose, carer_a, administered_at=at_local(dose.home, DAY, "21:00")).pk


@pytest.mark.parametrize(
    ("now", "clock_time", "expected"),
    [
        # a 22:00 dose recorded at 00:30 keeps 22:10 of the day before
        ("2026-11-26T00:30", "22:10", "2026-11-25T22:10"),
        ("2026-11-25T23:00", "22:10", "2026-11-25T22:10"),
        ("2026-11-25T22:10", "22:10", "2026-11-25T22:10"),
        # the clocks went back at 02:00 BST on 25 Oct 2026: 01:30 happened twice; the earlier
        ("2026-10-25T03:00", "01:30", "2026-10-25T01:30+01:00"),
        # the night the clocks went forward (29 Mar 2026)
        ("2026-03-29T00:30", "23:50", "2026-03-28T23:50"),
    ],
)
def test_a_clock_time_is_the_most_recent_past_time(now, clock_time, expected):
    tz = zoneinfo.ZoneInfo("Europe/London")
    now_at = dt.datetime.fromisoformat(now).replace(tzinfo=tz)
    want = dt.datetime.fromisoformat(expected)
    want = want if want.tzinfo else want.replace(tzinfo=tz)
    got = most_recent_past(dt.time.fromisoformat(clock_time), now=now_at, tz=tz)
    # PEP 495: a time in the fold never compares equal across zones; compare instants
    assert got.timestamp() == want.timestamp() and got.timestamp() <= now_at.timestamp()


# --- the gate covers every outcome (R-MAR-13) ---------------------------------------------------


def test_an_untrained_carer_cannot_record_not_given_either(clock, paracetamol, carer_a, senior_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    with pytest.raises(TrainingGateError) as e:
        not_given(dose, carer_a, "R")
    assert e.value.code == "training_missing"
    assert not Administration.objects.exists()


def test_the_round_is_read_only_for_a_gated_person(clock, paracetamol, carer_a, home_a, unit_a):
    dose = dose_at(paracetamol, "08:00")
    now = clock("08:05")
    screen = rounds.round_screen(
        home=home_a, unit=unit_a, round_=None, day=DAY, viewer=carer_a, rounds=[], now=now
    )
    ds = next(d for r in screen.residents for d in r.doses if d.dose.pk == dose.pk)
    assert ds.blocked and "ask" in ds.blocked
    assert not ds.can_record


# --- the allergy confirmation (R-MAR-16) --------------------------------------------------------


@pytest.fixture
def allergic_prn(resident_a, make_line, senior_a):
    allergy_add(resident=resident_a, by=senior_a, substance="Morphine", reason="GP record")
    line = make_line(
        "Oramorph 10mg/5ml oral solution",
        prn=True,
        dose_unit="ml",
        dose=Decimal("2.5"),
        allergy_override_reason="GP confirmed the reaction was nausea only",
    )
    prn_protocol(line, senior_a, interval=240, max_24h=4)
    return line


def test_an_allergy_matching_line_needs_a_second_seniors_confirmation(
    clock, qualified, allergic_prn, carer_a, senior_a, senior2_a
):
    clock("08:00")
    q = {"quantity": Decimal("2.5")}
    with pytest.raises(DoseError) as e:
        give_prn(allergic_prn, carer_a, **q)
    assert e.value.code == "second_senior_required" and "allergic" in e.value.message
    with pytest.raises(DoseError) as e:
        give_prn(allergic_prn, senior_a, allergy_confirmed_by=senior_a, **q)
    assert e.value.code == "second_senior_same_person"
    with pytest.raises(DoseError) as e:
        give_prn(allergic_prn, senior_a, allergy_confirmed_by=carer_a, **q)
    assert e.value.code == "second_senior_not_senior"
    record = give_prn(allergic_prn, senior_a, allergy_confirmed_by=senior2_a, **q)
    assert record.allergy_confirmed_by == senior2_a


# --- corrections (R-MAR-4, H-17) ----------------------------------------------------------------


def test_a_correction_to_given_passes_the_window_rule(clock, qualified, night, carer_a, senior_a):
    dose = dose_at(night, "22:00")
    clock("02:29")
    away = not_given(dose, carer_a, "H")  # allowed ahead
    clock("02:31")
    with pytest.raises(DoseError) as e:
        correct(away, senior_a, "given", quantity=ONE)
    assert e.value.code == "too_early"
    assert not Administration.objects.filter(corrects=away).exists()


def test_a_correction_can_fix_the_time_but_not_into_the_future(
    clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    record = give(dose, carer_a)
    with pytest.raises(DoseError) as e:
        correct(record, carer_a, "given", administered_at=at_local(dose.home, DAY, "09:00"))
    assert e.value.code == "future_time"
    fixed = correct(record, carer_a, "given", administered_at=at_local(dose.home, DAY, "07:50"))
    assert fixed.administered_at == at_local(dose.home, DAY, "07:50")


def test_a_correction_by_a_gated_person_is_refused(clock, paracetamol, carer_a, senior_a, home_a):
    from tests.training.factories import qualify

    qualify(carer_a, home_a)
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    record = give(dose, carer_a)
    with pytest.raises(TrainingGateError):
        correct(record, senior_a, "not_given", code=code(home_a, "R"))


def test_a_correction_to_given_passes_the_prn_limits(clock, qualified, prn, carer_a, home_a):
    clock("08:00")
    give_prn(prn, carer_a)
    clock("09:00")
    with pytest.raises(DoseError):
        give_prn(prn, carer_a)
    refused = services.administration_record(
        line=prn,
        by=carer_a,
        outcome="not_given",
        code=code(home_a, "R"),
        idempotency_key=key(),
    )
    with pytest.raises(DoseError) as e:
        correct(refused, carer_a, "given", quantity=ONE)
    assert e.value.code == "prn_interval"


def test_recorded_in_error_opens_the_dose_again_and_reverses_stock(
    clock, qualified, paracetamol, carer_a, senior_a
):
    from tests.stock.conftest import receive

    receive(paracetamol, senior_a, 28)
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    record = give(dose, carer_a)
    assert Stock.objects.get(line=paracetamol).balance == 27
    clock("08:07")
    void = correct(record, carer_a, "in_error", reason="Wrong resident's row")
    assert void.outcome == "in_error" and void.corrects == record
    assert Stock.objects.get(line=paracetamol).balance == 28
    dose.refresh_from_db()
    rounds.refresh_records(dose)
    assert rounds.dose_state(dose, void.recorded_at).state == "due"
    assert _recorded([dose.pk]) == set()
    with pytest.raises(DoseError) as e:
        correct(void, senior_a, "given", quantity=ONE)
    assert e.value.code == "void_not_correctable"
    again = give(dose, carer_a)
    assert again.corrects == void and Stock.objects.get(line=paracetamol).balance == 27
    with pytest.raises(DoseError) as e:
        give(dose, senior_a)
    assert e.value.code == "already_recorded"
    rounds.refresh_records(dose)
    assert rounds.dose_state(dose, again.recorded_at).state == "given"
    assert _recorded([dose.pk]) == {dose.pk}


def test_a_void_after_the_window_leaves_a_gap(clock, qualified, paracetamol, carer_a):
    from audits import metrics

    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    record = give(dose, carer_a)
    clock("11:00")
    correct(record, carer_a, "in_error", reason="Given to the wrong person")
    rounds.refresh_records(dose)
    now = at_local(dose.home, DAY, "11:00")
    assert rounds.dose_state(dose, now).state == "missed"
    gaps = metrics.gaps(dose.home, DAY.replace(day=1), now)
    assert dose.pk in set(gaps.values_list("pk", flat=True))


def test_the_migration_gives_existing_prn_lines_their_protocols_limits(make_line, senior_a):
    import importlib

    from django.apps import apps

    from medications.models import PrescriptionLine

    migration = importlib.import_module(
        "medications.migrations.0008_prn_directions_override_advice_void"
    )
    old = make_line(prn=True)
    prn_protocol(old, senior_a, interval=300, max_24h=3)
    PrescriptionLine.objects.filter(pk=old.pk).update(
        prn_min_interval_minutes=None, prn_max_doses_24h=None
    )
    migration.copy_limits_from_protocols(apps, None)
    old.refresh_from_db()
    assert (old.prn_min_interval_minutes, old.prn_max_doses_24h) == (300, 3)
