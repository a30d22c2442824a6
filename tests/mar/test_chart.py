"""The MAR chart selector: cells like a paper MAR, gaps, corrections, PRN (R-MAR-12, R-MAR-2,
R-MAR-4, R-RX-9). Administrations are created directly: the chart only reads them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import time_machine

from emar.models import NonAdministrationCode
from medications import services
from medications.chart import CYCLE_ANCHOR, Kind, cycle_start, mar_chart
from medications.models import Administration, ScheduledDose
from tests.mar.conftest import at_local
from tests.medications.factories import line, times

# Frozen "now" for the chart tests: Wednesday 25 Nov 2026, 12:00 in the home. Its cycle runs
# Monday 9 Nov to Sunday 6 Dec 2026.
NOW_DAY = dt.date(2026, 11, 25)
CYCLE = dt.date(2026, 11, 9)


def code(home, letter: str) -> NonAdministrationCode:
    return NonAdministrationCode.objects.get(home=home, code=letter)


def record(
    dose: ScheduledDose | None,
    by,
    *,
    line=None,
    outcome: str = "given",
    code_letter: str = "",
    quantity: Decimal | None = None,
    at: dt.datetime | None = None,
    recorded_at: dt.datetime | None = None,
    witness=None,
    late: bool = False,
    final: bool = True,
    corrects: Administration | None = None,
    prn_reason: str = "",
) -> Administration:
    """One MAR record, made directly (the chart only reads records)."""
    line = line or dose.line
    at = at or dose.due_at
    given = outcome == "given"
    return Administration.objects.create(
        home=line.home,
        resident=line.resident,
        line=line,
        dose=dose,
        outcome=outcome,
        code=None if given else code(line.home, code_letter),
        quantity=(quantity or (dose.dose if dose and dose.dose else Decimal(1))) if given else None,
        administered_at=at,
        recorded_at=recorded_at or at + dt.timedelta(minutes=2),
        recorded_by=by,
        witness=witness,
        late=late,
        late_reason="Signed after the round: agency nurse" if late else "",
        final=final,
        corrects=corrects,
        correction_reason="Recorded against the wrong dose" if corrects else "",
        prn_reason=prn_reason,
        idempotency_key=uuid.uuid4(),
    )


def dose_at(line, day: dt.date, hhmm: str) -> ScheduledDose:
    return ScheduledDose.objects.get(
        line=line, local_date=day, local_time=dt.time.fromisoformat(hhmm)
    )


def build_history(home, resident, *, carer, senior, senior2, upto: dt.date = NOW_DAY) -> dict:
    """A fortnight and more of mixed records for `resident` in the cycle from 9 Nov 2026.

    Must be called with the clock frozen on `upto` at 12:00 local time.
    """
    day = lambda n: CYCLE + dt.timedelta(days=n)  # noqa: E731
    with time_machine.travel(at_local(home, CYCLE - dt.timedelta(days=1), "10:00"), tick=False):
        para = line(
            resident,
            senior,
            checker=senior2,
            schedule=times("08:00", "20:00"),
            start_date=CYCLE,
            instructions="With or after food",
        )
        morphine = line(
            resident,
            senior,
            checker=senior2,
            name="Morphine 10mg modified-release tablets",
            schedule=times("08:00", "20:00"),
            start_date=CYCLE,
        )
        sertraline = line(
            resident,
            senior,
            checker=senior2,
            name="Sertraline 50mg tablets",
            schedule=times("09:00"),
            start_date=CYCLE,
        )
        services.self_admin_assess(
            line=sertraline,
            by=senior,
            has_capacity=True,
            dexterity_ok=True,
            storage_ok=True,
            low_risk_to_others=True,
            self_administers=True,
            review_date=CYCLE + dt.timedelta(days=90),
        )
        amlodipine = line(
            resident,
            senior,
            checker=senior2,
            name="Amlodipine 5mg tablets",
            schedule=times("08:00"),
            start_date=CYCLE,
        )
        prn = line(
            resident,
            senior,
            checker=senior2,
            name="Co-codamol 30mg/500mg tablets",
            prn=True,
            dose=Decimal(1),
            dose_max=Decimal(2),
            start_date=CYCLE,
            indication="Pain",
        )
    with time_machine.travel(at_local(home, day(11), "12:00"), tick=False):
        services.line_stop(
            line=amlodipine, by=senior, reason="Blood pressure low", authorised_by="Dr Patel"
        )
    with time_machine.travel(at_local(home, upto, "12:00"), tick=False):
        services.doses_sync(home=home, start=CYCLE, end=CYCLE + dt.timedelta(days=27))
    special = {
        (day(1), "08:00"),
        (day(2), "20:00"),
        (day(3), "08:00"),
        (day(4), "20:00"),
        (day(5), "08:00"),
        (day(6), "08:00"),
        (day(7), "08:00"),
    }
    now = at_local(home, upto, "12:00")
    for dose in ScheduledDose.objects.filter(
        line__in=[para, morphine, amlodipine], window_closes__lt=now
    ):
        key = (dose.local_date, f"{dose.local_time:%H:%M}")
        if dose.line == para and key in special:
            continue
        witness = senior2 if dose.line == morphine else None
        record(dose, carer, witness=witness)
    d = {"para": para, "morphine": morphine, "sertraline": sertraline}
    d.update(amlodipine=amlodipine, prn=prn)
    # The special paracetamol doses, one of each kind of cell.
    d["refused"] = record(
        dose_at(para, day(1), "08:00"), senior, outcome="not_given", code_letter="R"
    )
    d["gap"] = dose_at(para, day(2), "20:00")  # no record at all
    d["quantity"] = record(dose_at(para, day(3), "08:00"), carer, quantity=Decimal(2))
    late_dose = dose_at(para, day(4), "20:00")
    d["late"] = record(
        late_dose, carer, late=True, recorded_at=late_dose.window_closes + dt.timedelta(hours=3)
    )
    wrong = record(dose_at(para, day(5), "08:00"), carer, outcome="not_given", code_letter="R")
    d["original"] = wrong
    d["correction"] = record(
        wrong.dose, senior2, corrects=wrong, recorded_at=wrong.recorded_at + dt.timedelta(hours=1)
    )
    asleep = dose_at(para, day(6), "08:00")
    record(asleep, carer, outcome="not_given", code_letter="S", final=False)
    d["retried"] = record(asleep, carer, at=asleep.due_at + dt.timedelta(minutes=40))
    d["asleep_gap"] = dose_at(para, day(7), "08:00")
    record(d["asleep_gap"], carer, outcome="not_given", code_letter="S", final=False)
    # PRN: two doses on day 3, one not given on day 4.
    d["prn_1"] = record(
        None,
        carer,
        line=prn,
        quantity=Decimal(2),
        at=at_local(home, day(3), "14:05"),
        prn_reason="Knee pain",
    )
    d["prn_2"] = record(
        None,
        senior,
        line=prn,
        quantity=Decimal(1),
        at=at_local(home, day(3), "22:10"),
        prn_reason="Knee pain",
    )
    return d


@pytest.fixture
def history(home_a, resident_a, carer_a, senior_a, senior2_a):
    return build_history(home_a, resident_a, carer=carer_a, senior=senior_a, senior2=senior2_a)


@pytest.fixture
def chart(home_a, resident_a, history):
    with time_machine.travel(at_local(home_a, NOW_DAY, "12:00"), tick=False):
        return mar_chart(resident=resident_a, start=CYCLE, days=28)


def cell(chart, line, hhmm: str | None, day: dt.date):
    for row in chart.rows:
        if row.line == line and (row.time_label == (hhmm or "PRN")):
            return next(c for c in row.cells if c.day == day)
    raise AssertionError(f"no row for {line} at {hhmm}")


def day(n: int) -> dt.date:
    return CYCLE + dt.timedelta(days=n)


def test_cycles_are_28_day_blocks_from_the_anchor():
    assert cycle_start(CYCLE_ANCHOR) == CYCLE_ANCHOR
    assert cycle_start(NOW_DAY) == CYCLE
    assert cycle_start(CYCLE + dt.timedelta(days=27)) == CYCLE
    assert cycle_start(CYCLE + dt.timedelta(days=28)) == CYCLE + dt.timedelta(days=28)
    assert cycle_start(dt.date(2025, 12, 31)) == dt.date(2025, 12, 8)  # before the anchor too
    assert CYCLE.weekday() == 0


def test_rows_are_lines_by_dose_time_and_columns_are_days(chart, history):
    assert len(chart.days) == 28 and chart.days[0] == CYCLE and chart.end == day(27)
    labels = [(r.line.medicine.name, r.time_label) for r in chart.rows]
    assert labels == [
        ("Amlodipine 5mg tablets", "08:00"),
        ("Morphine 10mg modified-release tablets", "08:00"),
        ("Morphine 10mg modified-release tablets", "20:00"),
        ("Paracetamol 500mg tablets", "08:00"),
        ("Paracetamol 500mg tablets", "20:00"),
        ("Sertraline 50mg tablets", "09:00"),
        ("Co-codamol 30mg/500mg tablets", "PRN"),
    ]
    para_rows = [r for r in chart.rows if r.line == history["para"]]
    assert para_rows[0].first and para_rows[0].span == 2 and not para_rows[1].first


def test_a_given_dose_shows_the_initials_of_who_gave_it(chart, history):
    c = cell(chart, history["para"], "08:00", day(0))
    assert (c.kind, c.mark, c.quantity, c.late, c.corrected) == (Kind.GIVEN, "CA", "", False, False)


def test_a_refused_dose_shows_the_code_letter(chart, history):
    c = cell(chart, history["para"], "08:00", day(1))
    assert (c.kind, c.mark) == (Kind.NOT_GIVEN, "R")


def test_a_dose_with_no_record_after_its_window_is_a_gap(chart, history):
    c = cell(chart, history["para"], "20:00", day(2))
    assert (c.kind, c.mark) == (Kind.GAP, "✗")
    assert "Missed" in c.title


def test_a_will_retry_code_alone_is_still_a_gap_and_shows_the_code(chart, history):
    c = cell(chart, history["para"], "08:00", day(7))
    assert (c.kind, c.pending) == (Kind.GAP, "S")


def test_a_retry_that_was_given_shows_the_final_record(chart, history):
    c = cell(chart, history["para"], "08:00", day(6))
    assert (c.kind, c.mark, c.pending) == (Kind.GIVEN, "CA", "S")


def test_a_different_quantity_is_shown_with_the_initials(chart, history):
    c = cell(chart, history["para"], "08:00", day(3))
    assert (c.mark, c.quantity) == ("CA", "2")


def test_a_late_entry_is_marked(chart, history):
    c = cell(chart, history["para"], "20:00", day(4))
    assert c.late and c.kind == Kind.GIVEN
    assert "late entry" in c.title


def test_a_controlled_drug_shows_the_witness(chart, history):
    c = cell(chart, history["morphine"], "20:00", day(0))
    # Sam Ahmed and Sue Ali are both "SA", which is also the self-administered mark: numbered.
    assert (c.mark, c.witness) == ("CA", "SA2")
    assert [(s.initials, s.name) for s in chart.signatures] == [
        ("CA", "Carla Adams"),
        ("SA1", "Sam Ahmed"),
        ("SA2", "Sue Ali"),
    ]


def test_a_self_administered_dose_shows_sa_and_is_never_a_gap(chart, history):
    c = cell(chart, history["sertraline"], "09:00", day(2))
    assert (c.kind, c.mark) == (Kind.SELF, "SA")


def test_a_correction_shows_the_latest_record_and_lists_the_original(chart, history):
    c = cell(chart, history["para"], "08:00", day(5))
    assert (c.kind, c.mark, c.corrected) == (Kind.GIVEN, "SA2", True)
    [correction] = chart.corrections
    assert (correction.original, correction.now) == ("R", "SA2")
    assert correction.reason == "Recorded against the wrong dose"
    assert (correction.original_by, correction.by) == ("Carla Adams", "Sue Ali")


def test_prn_doses_are_listed_with_time_quantity_and_initials(chart, history):
    c = cell(chart, history["prn"], None, day(3))
    assert [(e.time, e.quantity, e.mark) for e in c.entries] == [
        ("14:05", "2", "CA"),
        ("22:10", "1", "SA1"),
    ]
    assert "Knee pain" in c.title
    assert cell(chart, history["prn"], None, day(4)).entries == []


def test_future_doses_are_blank_and_unscheduled_days_are_not_scheduled(chart, history):
    evening = cell(chart, history["para"], "20:00", NOW_DAY)
    assert (evening.kind, evening.mark) == (Kind.DUE, "")
    stopped = cell(chart, history["amlodipine"], "08:00", day(13))
    assert stopped.kind == Kind.NONE


def test_cancelled_doses_are_not_shown(home_a, resident_a, chart, history):
    # tomorrow: the last day of stored doses (later days are projected from the schedule)
    dose = dose_at(history["para"], day(17), "08:00")
    ScheduledDose.objects.filter(pk=dose.pk).update(cancelled_at=dose.created_at)
    with time_machine.travel(at_local(home_a, NOW_DAY, "12:00"), tick=False):
        again = mar_chart(resident=resident_a, start=CYCLE, days=28)
    assert cell(again, history["para"], "08:00", day(17)).kind == Kind.NONE
    assert cell(again, history["para"], "08:00", day(20)).kind == Kind.DUE  # projected


def test_header_has_allergies_in_words_and_the_code_key(chart):
    assert chart.allergies == "No known allergies"
    assert {c.code for c in chart.codes} >= {"R", "N", "H", "L", "S", "W", "D", "U", "X", "O"}


def test_a_retired_code_on_the_charts_records_stays_in_the_key(home_a, resident_a, history):
    from emar.models import NonAdministrationCode

    NonAdministrationCode.objects.filter(home=home_a, code__in=["R", "N"]).update(active=False)
    with time_machine.travel(at_local(home_a, NOW_DAY, "12:00"), tick=False):
        chart = mar_chart(resident=resident_a, start=CYCLE, days=28)
    keyed = {c.code for c in chart.codes}
    assert "R" in keyed  # refused on day 1 of this chart, retired since (R-MAR-6)
    assert "N" not in keyed  # retired and not on this chart


def test_unknown_allergy_status_is_shouted(home_a, unit_a, senior_a):
    from tests.residents.factories import resident

    person = resident(unit_a, senior_a, allergy_status="unknown")
    assert mar_chart(resident=person, start=CYCLE, days=7).allergies == "ALLERGY STATUS UNKNOWN"


def test_recorded_allergies_are_listed(home_a, unit_a, senior_a):
    from tests.residents.factories import resident

    person = resident(unit_a, senior_a, allergies=("Penicillin",))
    assert "Penicillin" in mar_chart(resident=person, start=CYCLE, days=7).allergies


def test_days_out_of_range_are_refused(resident_a):
    with pytest.raises(ValueError):
        mar_chart(resident=resident_a, start=CYCLE, days=43)


def _many_lines(home, resident, senior, senior2, carer, n_lines: int, n_days: int):
    names = ["Paracetamol 500mg tablets", "Amlodipine 5mg tablets", "Sertraline 50mg tablets",
             "Donepezil 5mg tablets", "Bisoprolol 2.5mg tablets", "Atorvastatin 20mg tablets",
             "Mirtazapine 15mg tablets", "Quetiapine 25mg tablets"]  # fmt: skip
    start = NOW_DAY - dt.timedelta(days=n_days)
    with time_machine.travel(at_local(home, start - dt.timedelta(days=1), "10:00"), tick=False):
        lines = [
            line(resident, senior, checker=senior2, name=name, start_date=start,
                 schedule=times("08:00", "20:00"))
            for name in names[:n_lines]
        ]  # fmt: skip
        lines.append(line(resident, senior, checker=senior2, prn=True, start_date=start,
                          name="Co-codamol 30mg/500mg tablets"))  # fmt: skip
    with time_machine.travel(at_local(home, NOW_DAY, "12:00"), tick=False):
        services.doses_sync(home=home, start=start, end=NOW_DAY)
    now = at_local(home, NOW_DAY, "12:00")
    for i, dose in enumerate(
        ScheduledDose.objects.filter(resident=resident, window_closes__lt=now)
    ):
        wrong = record(dose, carer if i % 3 else senior, witness=senior2 if i % 5 == 0 else None)
        if i % 7 == 0:
            record(dose, senior2, corrects=wrong)
        if i % 4 == 0:
            record(None, carer, line=lines[-1], at=dose.due_at, prn_reason="Pain")
    return start


@pytest.mark.parametrize(("n_lines", "n_days"), [(2, 7), (8, 28)])
def test_query_count_does_not_grow_with_lines_or_days(
    django_assert_max_num_queries, home_a, unit_a, senior_a, senior2_a, carer_a, n_lines, n_days
):
    from residents.models import Resident
    from tests.residents.factories import resident

    person = resident(unit_a, senior_a, allergies=("Latex",))
    start = _many_lines(home_a, person, senior_a, senior2_a, carer_a, n_lines, n_days)
    person = Resident.objects.select_related("home", "unit").get(pk=person.pk)
    noon = at_local(home_a, NOW_DAY, "12:00")
    with time_machine.travel(noon, tick=False), django_assert_max_num_queries(8):
        chart = mar_chart(resident=person, start=start, days=n_days)
    assert len(chart.rows) == n_lines * 2 + 1
    assert any(c.corrected for r in chart.rows for c in r.cells)
