"""Turning a prescription schedule into scheduled doses (R-RX-3). Pure: no database, no clock.

`expand(schedule, start, end, tz)` returns the doses of local days `start`..`end` (inclusive)
as aware UTC datetimes, strictly increasing. Wall-clock times are the home's local times:

* A time that does not exist (the spring-forward gap, e.g. 01:30 on the last Sunday of March in
  Europe/London) is shifted forward by the length of the gap (01:30 -> 02:30 BST) and marked
  `shifted`.
* A time that happens twice (the autumn fall-back, e.g. 01:30 on the last Sunday of October) is
  given once, at its first occurrence (01:30 BST).
* Two slots that land on the same instant (only possible when one was shifted out of a gap) are
  one dose: the first slot in the schedule's order wins. A schedule never produces duplicates.

A monthly day that a month lacks (31 in April, 29-31 in February) falls on the month's last day.

`expand_versions` applies schedule versions: each version governs doses at or after its
`effective_from` and before the next version's, so a change made today never alters a dose
before it took effect ("changing a schedule never rewrites past records").
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

UTC = dt.UTC


class ScheduleError(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class DayRule(StrEnum):
    DAILY = "daily"
    EVERY_N_DAYS = "every_n_days"
    WEEKDAYS = "weekdays"  # chosen weekdays; one weekday is "weekly"
    MONTHLY = "monthly"
    CYCLIC = "cyclic"  # e.g. 21 days on, 7 off


class DoseRule(StrEnum):
    FIXED = "fixed"
    TAPERING = "tapering"  # steps of (days, dose), then the course ends
    VARIABLE = "variable"  # "as directed", entered per day (warfarin by INR)


DAY_RULE_LABELS = {
    DayRule.DAILY: "Every day",
    DayRule.EVERY_N_DAYS: "Every N days",
    DayRule.WEEKDAYS: "Chosen weekdays (one weekday = weekly)",
    DayRule.MONTHLY: "Monthly, on a day of the month",
    DayRule.CYCLIC: "Cyclical course (days on, days off)",
}
DOSE_RULE_LABELS = {
    DoseRule.FIXED: "The prescribed dose each time",
    DoseRule.TAPERING: "Tapering course (dose changes by step)",
    DoseRule.VARIABLE: "Variable: dose entered per day (e.g. warfarin)",
}


@dataclass(frozen=True)
class TaperStep:
    days: int
    dose: Decimal


@dataclass(frozen=True)
class Schedule:
    """When a regular line is due. `times` are local wall-clock times of the home."""

    times: tuple[dt.time, ...]
    days: DayRule = DayRule.DAILY
    every_n: int = 1
    weekdays: frozenset[int] = frozenset()  # Monday = 0
    month_day: int = 1
    cycle_on: int = 0
    cycle_off: int = 0
    anchor: dt.date | None = None  # day 0 of every-N, cyclic and tapering schedules
    dose_rule: DoseRule = DoseRule.FIXED
    dose: Decimal | None = None
    taper: tuple[TaperStep, ...] = ()
    variable: Mapping[dt.date, Decimal] = field(default_factory=dict, hash=False, compare=False)
    labels: tuple[str, ...] = ()  # e.g. the round names, one per time

    def __post_init__(self) -> None:
        if not self.times:
            raise ScheduleError("Choose at least one time of day.", code="schedule_no_times")
        if len(set(self.times)) != len(self.times):
            raise ScheduleError("A time is listed twice.", code="schedule_duplicate_times")
        if self.labels and len(self.labels) != len(self.times):
            raise ScheduleError("One label per time.", code="schedule_labels")
        if self.days == DayRule.EVERY_N_DAYS and not 1 <= self.every_n <= 366:
            raise ScheduleError("Every N days needs N from 1 to 366.", code="schedule_every_n")
        if self.days == DayRule.WEEKDAYS and (
            not self.weekdays or not self.weekdays <= set(range(7))
        ):
            raise ScheduleError("Choose at least one weekday.", code="schedule_no_weekdays")
        if self.days == DayRule.MONTHLY and not 1 <= self.month_day <= 31:
            raise ScheduleError("The day of the month is 1 to 31.", code="schedule_month_day")
        if self.days == DayRule.CYCLIC and (self.cycle_on < 1 or self.cycle_off < 1):
            raise ScheduleError(
                "A cyclical course needs at least one day on and one day off.",
                code="schedule_cycle",
            )
        needs_anchor = self.days in (DayRule.EVERY_N_DAYS, DayRule.CYCLIC) or (
            self.dose_rule == DoseRule.TAPERING
        )
        if needs_anchor and self.anchor is None:
            raise ScheduleError("This schedule needs a first day.", code="schedule_anchor")
        if self.dose_rule == DoseRule.TAPERING:
            if not self.taper:
                raise ScheduleError("Add the tapering steps.", code="schedule_taper")
            if any(s.days < 1 or s.dose <= 0 for s in self.taper):
                raise ScheduleError(
                    "Each tapering step needs at least one day and a positive dose.",
                    code="schedule_taper",
                )
        if self.dose_rule == DoseRule.FIXED and self.dose is not None and self.dose <= 0:
            raise ScheduleError("The dose must be positive.", code="schedule_dose")

    @property
    def course_days(self) -> int | None:
        return sum(s.days for s in self.taper) if self.dose_rule == DoseRule.TAPERING else None


@dataclass(frozen=True, order=True)
class ScheduledDose:
    at: dt.datetime  # aware, UTC
    local_date: dt.date
    local_time: dt.time  # the prescribed wall-clock time (before any gap shift)
    dose: Decimal | None = field(compare=False)  # None: variable dose not yet entered
    label: str = field(default="", compare=False)
    shifted: bool = field(default=False, compare=False)  # moved out of a spring-forward gap


def last_day_of_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _day_applies(s: Schedule, day: dt.date) -> bool:
    if s.anchor is not None and s.days in (DayRule.EVERY_N_DAYS, DayRule.CYCLIC):
        offset = (day - s.anchor).days
        if offset < 0:
            return False
        if s.days == DayRule.EVERY_N_DAYS:
            return offset % s.every_n == 0
        return offset % (s.cycle_on + s.cycle_off) < s.cycle_on
    if s.days == DayRule.WEEKDAYS:
        return day.weekday() in s.weekdays
    if s.days == DayRule.MONTHLY:
        return day.day == min(s.month_day, last_day_of_month(day))
    return True


def _dose_on(s: Schedule, day: dt.date) -> tuple[bool, Decimal | None]:
    """(is there a dose this day, how much)."""
    if s.dose_rule == DoseRule.TAPERING:
        assert s.anchor is not None
        offset = (day - s.anchor).days
        if offset < 0:
            return False, None
        for step in s.taper:
            if offset < step.days:
                return True, step.dose
            offset -= step.days
        return False, None  # the course has finished
    if s.dose_rule == DoseRule.VARIABLE:
        return True, s.variable.get(day)
    return True, s.dose


def local_to_utc(day: dt.date, at: dt.time, tz: dt.tzinfo) -> tuple[dt.datetime, bool]:
    """The instant of a local wall-clock time, and whether it was shifted out of a gap.

    zoneinfo with fold=0 reads a gap time with the offset in force before the change, which is
    exactly "shifted forward by the gap", and an ambiguous time as its first occurrence.
    """
    naive = dt.datetime.combine(day, at.replace(tzinfo=None, fold=0))
    instant = naive.replace(tzinfo=tz).astimezone(UTC)
    shifted = instant.astimezone(tz).replace(tzinfo=None) != naive
    return instant, shifted


def expand(schedule: Schedule, start: dt.date, end: dt.date, tz: dt.tzinfo) -> list[ScheduledDose]:
    """The doses of local days `start`..`end` inclusive, strictly increasing in time."""
    if end < start:
        return []
    doses: dict[dt.datetime, ScheduledDose] = {}
    labels = schedule.labels or ("",) * len(schedule.times)
    day = start
    one = dt.timedelta(days=1)
    while day <= end:
        if _day_applies(schedule, day):
            due, amount = _dose_on(schedule, day)
            if due:
                for slot, label in zip(schedule.times, labels, strict=True):
                    instant, shifted = local_to_utc(day, slot, tz)
                    if instant not in doses:  # never two doses at one instant
                        doses[instant] = ScheduledDose(
                            at=instant,
                            local_date=day,
                            local_time=slot,
                            dose=amount,
                            label=label,
                            shifted=shifted,
                        )
        day += one
    return [doses[k] for k in sorted(doses)]


@dataclass(frozen=True)
class Version:
    effective_from: dt.datetime  # aware
    schedule: Schedule


def expand_versions(
    versions: Sequence[Version],
    start: dt.date,
    end: dt.date,
    tz: dt.tzinfo,
    *,
    until: dt.datetime | None = None,
) -> list[ScheduledDose]:
    """Doses of a line whose schedule changed over time; none at or after `until` (a stop).

    Each version governs [its effective_from, the next version's effective_from).
    """
    ordered = sorted(versions, key=lambda v: v.effective_from)
    result: list[ScheduledDose] = []
    for i, version in enumerate(ordered):
        upper = ordered[i + 1].effective_from if i + 1 < len(ordered) else None
        if until is not None and (upper is None or until < upper):
            upper = until
        if upper is not None and upper <= version.effective_from:
            continue
        first = max(start, version.effective_from.astimezone(tz).date())
        last = min(end, upper.astimezone(tz).date()) if upper is not None else end
        for dose in expand(version.schedule, first, last, tz):
            if dose.at >= version.effective_from and (upper is None or dose.at < upper):
                result.append(dose)
    # Versions cover disjoint intervals, so there are no duplicates to merge.
    result.sort()
    return result
