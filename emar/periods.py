"""The periods a page, an export or a command may ask for (R-SEC-1, R-MAR-12): dates from
1 January 2000 to a year ahead, and at most 92 days (three months) per request, so no request
can make the server read — or write — without bound. One rule for every `start`/`end`/`month`/
`days` a user can type."""

from __future__ import annotations

import datetime as dt

from .services import DomainError

EARLIEST = dt.date(2000, 1, 1)
MAX_DAYS = 92  # three months
AHEAD = dt.timedelta(days=366)


class PeriodError(DomainError):
    """A period out of range; `code` is stable."""


def latest(today: dt.date) -> dt.date:
    return today + AHEAD


def period_check(
    *, start: dt.date, end: dt.date, today: dt.date, max_days: int = MAX_DAYS
) -> tuple[dt.date, dt.date]:
    """`start`..`end` (inclusive) if it is a sane period, else a PeriodError saying what to ask
    for instead."""
    last = latest(today)
    if start < EARLIEST or end > last or start > last or end < EARLIEST:
        raise PeriodError(
            f"Choose dates from {EARLIEST:%-d %B %Y} to {last:%-d %B %Y}.", code="period_range"
        )
    if end < start:
        raise PeriodError("The end date is before the start date.", code="period_reversed")
    if (end - start).days + 1 > max_days:
        months = " (about three months)" if max_days == MAX_DAYS else ""
        raise PeriodError(
            f"Ask for at most {max_days} days{months} at a time.", code="period_too_long"
        )
    return start, end


def month_check(*, month: dt.date, today: dt.date) -> dt.date:
    """The first day of a calendar month within the sane range."""
    first = month.replace(day=1)
    period_check(start=first, end=first, today=today)
    return first
