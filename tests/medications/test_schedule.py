"""The pure schedule expansion (R-RX-3, R-ORG-5): clock changes, month ends, leap days, start
and end dates, and "changing a schedule never rewrites the past". No database."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import zoneinfo
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medications.schedule import (
    DayRule,
    DoseRule,
    Schedule,
    ScheduleError,
    TaperStep,
    Version,
    expand,
    expand_versions,
    local_to_utc,
)

LONDON = zoneinfo.ZoneInfo("Europe/London")
UTC = dt.UTC
TZS = [
    LONDON,
    zoneinfo.ZoneInfo("America/New_York"),
    zoneinfo.ZoneInfo("Australia/Lord_Howe"),  # a 30-minute clock change
    zoneinfo.ZoneInfo("UTC"),
]
# Europe/London changes: 29 Mar 2026 01:00 GMT -> 02:00 BST; 25 Oct 2026 02:00 BST -> 01:00 GMT.
SPRING = dt.date(2026, 3, 29)
AUTUMN = dt.date(2026, 10, 25)

times_st = st.lists(
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    min_size=1,
    max_size=6,
    unique=True,
).map(lambda ts: tuple(sorted(ts)))
# Dates that include both 2026 clock changes, month ends and the 2028 leap day.
dates_st = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2028, 12, 31))
near_changes_st = st.sampled_from([SPRING, AUTUMN, dt.date(2027, 3, 28), dt.date(2027, 10, 31)])


def daily(*times: str, **kw) -> Schedule:
    return Schedule(times=tuple(dt.time.fromisoformat(t) for t in times), **kw)


def _window(day: dt.date, before: int, after: int) -> tuple[dt.date, dt.date]:
    return day - dt.timedelta(days=before), day + dt.timedelta(days=after)


# --- The oracle: written here from the clock rules, not from medications.schedule -------------


@functools.cache
def _offsets_near(day: dt.date, tz: dt.tzinfo) -> frozenset[dt.timedelta]:
    """Every UTC offset the zone uses within two days of `day`, sampled hourly (an offset is
    in force for months, so hourly samples see each one)."""
    first = dt.datetime.combine(day, dt.time(0), tzinfo=UTC) - dt.timedelta(days=2)
    return frozenset(
        (first + dt.timedelta(hours=k)).astimezone(tz).utcoffset() for k in range(5 * 24)
    )


@functools.cache
def oracle_instant(day: dt.date, at: dt.time, tz: dt.tzinfo) -> tuple[dt.datetime, bool]:
    """The UTC instant a care home means by `at` on `day` (R-ORG-5), by brute force: the
    earliest instant whose wall clock reads `at`; a time the clocks skip is given as that wall
    time read with the offset before the skip (shifted forward by the gap)."""
    naive = dt.datetime.combine(day, at)
    offsets = _offsets_near(day, tz)
    real = sorted(
        (naive - off).replace(tzinfo=UTC)
        for off in offsets
        if (naive - off).replace(tzinfo=UTC).astimezone(tz).utcoffset() == off
    )
    if real:
        return real[0], False
    # In a gap the clocks went forward, so the offset before it is the smaller one.
    return (naive - min(offsets)).replace(tzinfo=UTC), True


def oracle_days(s: Schedule, start: dt.date, end: dt.date) -> list[dt.date]:
    """The local days with a dose, for the day rules the properties draw."""
    days = []
    day = start
    while day <= end:
        if s.days == DayRule.DAILY:
            due = True
        elif s.days == DayRule.WEEKDAYS:
            due = day.weekday() in s.weekdays
        elif s.days == DayRule.EVERY_N_DAYS:
            due = day >= s.anchor and (day - s.anchor).days % s.every_n == 0
        elif s.days == DayRule.MONTHLY:
            due = day.day == min(s.month_day, calendar.monthrange(day.year, day.month)[1])
        else:
            raise AssertionError(f"no oracle for {s.days}")
        if due:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def oracle_instants(s: Schedule, start: dt.date, end: dt.date, tz) -> list[dt.datetime]:
    """Every dose instant of `s` over local days start..end, once each, in time order."""
    return sorted(
        {oracle_instant(day, t, tz)[0] for day in oracle_days(s, start, end) for t in s.times}
    )


def test_the_oracle_knows_the_2026_london_changes():
    assert oracle_instant(SPRING, dt.time(1, 30), LONDON) == (
        dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        True,
    )
    assert oracle_instant(AUTUMN, dt.time(1, 30), LONDON) == (
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        False,
    )
    assert oracle_instant(dt.date(2026, 7, 1), dt.time(9), LONDON)[0].hour == 8


# --- Clock changes: examples that document the rule -------------------------------------------


def test_a_time_in_the_spring_gap_is_shifted_forward():
    [dose] = expand(daily("01:30"), SPRING, SPRING, LONDON)
    assert dose.at == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 BST
    assert dose.at.astimezone(LONDON).time() == dt.time(2, 30)
    assert dose.shifted and dose.local_time == dt.time(1, 30)


def test_an_ambiguous_autumn_time_is_given_once_at_its_first_occurrence():
    [dose] = expand(daily("01:30"), AUTUMN, AUTUMN, LONDON)
    assert dose.at == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert not dose.shifted


def test_round_times_keep_their_wall_clock_across_both_changes():
    doses = expand(daily("08:00", "22:00"), dt.date(2026, 3, 28), dt.date(2026, 3, 30), LONDON)
    assert [d.at.astimezone(LONDON).strftime("%d %H:%M") for d in doses] == [
        "28 08:00",
        "28 22:00",
        "29 08:00",
        "29 22:00",
        "30 08:00",
        "30 22:00",
    ]
    assert doses[0].at.hour == 8 and doses[2].at.hour == 7  # GMT, then BST


def test_a_shifted_gap_time_that_lands_on_another_slot_is_one_dose():
    doses = expand(daily("01:30", "02:30"), SPRING, SPRING, LONDON)
    assert len(doses) == 1
    assert doses[0].local_time == dt.time(1, 30)


# --- Properties -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    times=times_st,
    day=near_changes_st | dates_st,
    before=st.integers(0, 3),
    after=st.integers(0, 3),
    tz=st.sampled_from(TZS),
)
def test_doses_are_utc_strictly_increasing_and_on_their_local_day(times, day, before, after, tz):
    start, end = _window(day, before, after)
    doses = expand(Schedule(times=times), start, end, tz)
    assert doses, "every day has at least one dose"
    instants = [d.at for d in doses]
    assert instants == sorted(set(instants)), "no duplicates, in time order"
    for d in doses:
        assert (d.at, d.shifted) == oracle_instant(d.local_date, d.local_time, tz)
        assert d.at.tzinfo is UTC
        assert start <= d.local_date <= end
        local = d.at.astimezone(tz)
        if d.shifted:
            # only a wall-clock time that does not exist is moved, and only forward
            naive = dt.datetime.combine(d.local_date, d.local_time)
            assert local.replace(tzinfo=None) > naive
            assert local.replace(tzinfo=None) - naive <= dt.timedelta(hours=1)
        else:
            assert local.date() == d.local_date and local.time() == d.local_time


@settings(max_examples=300, deadline=None)
@given(
    times=times_st, day=near_changes_st | dates_st, days=st.integers(0, 40), tz=st.sampled_from(TZS)
)
def test_every_day_has_every_time_except_gap_collisions(times, day, days, tz):
    end = day + dt.timedelta(days=days)
    doses = expand(Schedule(times=times), day, end, tz)
    expected = oracle_instants(Schedule(times=times), day, end, tz)
    assert len(expected) >= days + 1
    assert [d.at for d in doses] == expected


@settings(max_examples=200, deadline=None)
@given(
    times=times_st,
    start=dates_st,
    split=st.integers(0, 60),
    rest=st.integers(0, 60),
    tz=st.sampled_from(TZS),
)
def test_expanding_in_pieces_equals_expanding_at_once(times, start, split, rest, tz):
    s = Schedule(times=times)
    middle = start + dt.timedelta(days=split)
    end = middle + dt.timedelta(days=rest + 1)
    whole = expand(s, start, end, tz)
    pieces = expand(s, start, middle, tz) + expand(s, middle + dt.timedelta(days=1), end, tz)
    assert len(whole) >= split + rest + 2
    assert whole == pieces


@given(start=dates_st, back=st.integers(1, 30))
def test_an_end_before_the_start_gives_nothing(start, back):
    assert expand(daily("08:00"), start, start - dt.timedelta(days=back), LONDON) == []


@settings(max_examples=200, deadline=None)
@given(month_day=st.integers(1, 31), start=dates_st, months=st.integers(1, 14))
def test_monthly_is_once_a_month_on_the_day_or_the_months_last_day(month_day, start, months):
    end = start + dt.timedelta(days=31 * months)
    s = daily("09:00", days=DayRule.MONTHLY, month_day=month_day)
    doses = expand(s, start, end, LONDON)
    assert len(doses) >= months  # a window of 31 days or more holds that day of some month
    seen_months = [(d.local_date.year, d.local_date.month) for d in doses]
    assert len(seen_months) == len(set(seen_months))
    assert [d.local_date for d in doses] == oracle_days(s, start, end)
    for d in doses:
        last = calendar.monthrange(d.local_date.year, d.local_date.month)[1]
        assert d.local_date.day == min(month_day, last)


def test_monthly_on_the_29th_uses_the_leap_day_and_the_28th_otherwise():
    s = daily("09:00", days=DayRule.MONTHLY, month_day=29)
    feb_2028 = expand(s, dt.date(2028, 2, 1), dt.date(2028, 2, 29), LONDON)
    feb_2027 = expand(s, dt.date(2027, 2, 1), dt.date(2027, 2, 28), LONDON)
    assert [d.local_date for d in feb_2028] == [dt.date(2028, 2, 29)]
    assert [d.local_date for d in feb_2027] == [dt.date(2027, 2, 28)]


def test_monthly_on_the_31st_falls_on_the_last_day_of_short_months():
    s = daily("09:00", days=DayRule.MONTHLY, month_day=31)
    doses = expand(s, dt.date(2026, 1, 1), dt.date(2026, 6, 30), LONDON)
    assert [d.local_date.isoformat() for d in doses] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
        "2026-05-31",
        "2026-06-30",
    ]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 30), anchor=dates_st, offset=st.integers(-40, 40), days=st.integers(0, 120))
def test_every_n_days_counts_from_the_first_day_whatever_the_window(n, anchor, offset, days):
    start = anchor + dt.timedelta(days=offset)
    s = daily("10:00", days=DayRule.EVERY_N_DAYS, every_n=n, anchor=anchor)
    end = start + dt.timedelta(days=days)
    doses = expand(s, start, end, LONDON)
    window = [start + dt.timedelta(days=k) for k in range(days + 1)]
    expected = [d for d in window if d >= anchor and (d - anchor).days % n == 0]
    if start >= anchor and len(window) >= n:
        assert expected, "any n days from the first day on hold a dose"
    assert [d.local_date for d in doses] == expected


@given(weekdays=st.sets(st.integers(0, 6), min_size=1), start=dates_st)
def test_chosen_weekdays_only(weekdays, start):
    s = daily("08:00", days=DayRule.WEEKDAYS, weekdays=frozenset(weekdays))
    doses = expand(s, start, start + dt.timedelta(days=27), LONDON)
    assert {d.local_date.weekday() for d in doses} == weekdays
    assert len(doses) == 4 * len(weekdays)


def test_cyclic_21_on_7_off():
    anchor = dt.date(2026, 1, 5)
    s = daily("08:00", days=DayRule.CYCLIC, cycle_on=21, cycle_off=7, anchor=anchor)
    doses = expand(s, anchor, anchor + dt.timedelta(days=55), LONDON)
    offsets = [(d.local_date - anchor).days for d in doses]
    assert offsets == list(range(21)) + list(range(28, 49))


def test_tapering_course_changes_dose_by_step_then_ends():
    anchor = dt.date(2026, 3, 27)
    s = daily(
        "08:00",
        dose_rule=DoseRule.TAPERING,
        anchor=anchor,
        taper=(TaperStep(3, Decimal(40)), TaperStep(2, Decimal(20))),
    )
    doses = expand(s, anchor - dt.timedelta(days=2), anchor + dt.timedelta(days=10), LONDON)
    assert [(d.local_date.day, d.dose) for d in doses] == [
        (27, 40),
        (28, 40),
        (29, 40),
        (30, 20),
        (31, 20),
    ]


def test_variable_dose_per_day_and_none_where_not_entered():
    s = daily(
        "18:00",
        dose_rule=DoseRule.VARIABLE,
        variable={dt.date(2026, 5, 1): Decimal(3), dt.date(2026, 5, 2): Decimal("2.5")},
    )
    doses = expand(s, dt.date(2026, 5, 1), dt.date(2026, 5, 3), LONDON)
    assert [d.dose for d in doses] == [Decimal(3), Decimal("2.5"), None]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"times": ()}, "schedule_no_times"),
        ({"times": (dt.time(8), dt.time(8))}, "schedule_duplicate_times"),
        ({"times": (dt.time(8),), "days": DayRule.WEEKDAYS}, "schedule_no_weekdays"),
        ({"times": (dt.time(8),), "days": DayRule.MONTHLY, "month_day": 32}, "schedule_month_day"),
        (
            {
                "times": (dt.time(8),),
                "days": DayRule.CYCLIC,
                "cycle_on": 21,
                "anchor": dt.date(2026, 1, 1),
            },
            "schedule_cycle",
        ),
        ({"times": (dt.time(8),), "days": DayRule.EVERY_N_DAYS, "every_n": 2}, "schedule_anchor"),
        (
            {"times": (dt.time(8),), "dose_rule": DoseRule.TAPERING, "anchor": dt.date(2026, 1, 1)},
            "schedule_taper",
        ),
    ],
)
def test_a_bad_schedule_is_refused_with_a_code(kwargs, code):
    with pytest.raises(ScheduleError) as e:
        Schedule(**kwargs)
    assert e.value.code == code


# --- Schedule versions: the past is never rewritten -------------------------------------------

schedules_st = st.builds(
    Schedule,
    times=times_st,
    days=st.sampled_from([DayRule.DAILY, DayRule.EVERY_N_DAYS, DayRule.WEEKDAYS]),
    every_n=st.integers(1, 5),
    weekdays=st.sets(st.integers(0, 6), min_size=1).map(frozenset),
    anchor=st.just(dt.date(2026, 3, 1)),
)


@settings(max_examples=300, deadline=None)
@given(
    old=schedules_st,
    new=schedules_st,
    change_day=st.integers(0, 60),
    change_minute=st.integers(0, 24 * 60 - 1),
    tz=st.sampled_from(TZS),
)
def test_changing_a_schedule_never_rewrites_the_past(old, new, change_day, change_minute, tz):
    start, end = dt.date(2026, 3, 1), dt.date(2026, 5, 31)
    began = local_to_utc(start, dt.time(0), tz)[0]
    change = local_to_utc(
        start + dt.timedelta(days=change_day),
        dt.time(change_minute // 60, change_minute % 60),
        tz,
    )[0]
    before = expand_versions([Version(began, old)], start, end, tz)
    after = expand_versions([Version(began, old), Version(change, new)], start, end, tz)
    assert [d.at for d in before] == oracle_instants(old, start, end, tz)
    assert before and after
    assert [d for d in after if d.at < change] == [d for d in before if d.at < change]
    later_new = [u for u in oracle_instants(new, start, end, tz) if u >= change]
    assert [d.at for d in after if d.at >= change] == later_new


@settings(max_examples=150, deadline=None)
@given(times=times_st, stop_day=st.integers(0, 20), stop_minute=st.integers(0, 1439))
def test_a_stopped_line_has_no_dose_from_the_stop_time(times, stop_day, stop_minute):
    start, end = dt.date(2026, 10, 15), dt.date(2026, 11, 15)
    began = local_to_utc(start, dt.time(0), LONDON)[0]
    stop = began + dt.timedelta(days=stop_day, minutes=stop_minute)
    s = Schedule(times=times)
    doses = expand_versions([Version(began, s)], start, end, LONDON, until=stop)
    expected = [u for u in oracle_instants(s, start, end, LONDON) if u < stop]
    if stop_day:
        assert expected, "a whole day before the stop holds every time"
    assert [d.at for d in doses] == expected


def test_a_version_effective_mid_day_takes_over_from_that_instant():
    start = dt.date(2026, 6, 1)
    began = local_to_utc(start, dt.time(0), LONDON)[0]
    noon = local_to_utc(start, dt.time(12, 0), LONDON)[0]
    doses = expand_versions(
        [Version(began, daily("08:00", "18:00")), Version(noon, daily("13:00"))],
        start,
        start,
        LONDON,
    )
    assert [d.at.astimezone(LONDON).strftime("%H:%M") for d in doses] == ["08:00", "13:00"]
