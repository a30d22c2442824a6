"""The MAR chart on screen and as PDF, for one resident or a whole unit (R-MAR-12, H-10).

The resident (or home) is looked up scoped to the user's homes before the query string is
read, so an outsider gets 404 whatever they ask for; bad `start`/`days` give 400, never 500.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from emar.models import CareHome, Unit
from emar.pdf import render_pdf
from emar.periods import PeriodError as BadPeriod
from emar.periods import period_check
from emar.permissions import Perm, requires, scoped_get
from residents.models import Resident

from ..chart import CYCLE_DAYS, MAX_DAYS, cycle_start, mar_chart
from ..rendering import PRINT_TEMPLATE, print_context
from ..services import doses_sync_for_read


class PeriodError(ValueError):
    pass


def period_from(query, home: CareHome) -> tuple[dt.date, int]:
    """`?start=YYYY-MM-DD&days=N`, defaulting to the home's current 28-day cycle."""
    raw_start = query.get("start", "").strip()
    raw_days = query.get("days", "").strip()
    if raw_start:
        try:
            start = dt.date.fromisoformat(raw_start)
        except ValueError:
            raise PeriodError(
                f"“{raw_start[:20]}” is not a date: give the start as YYYY-MM-DD."
            ) from None
    else:
        start = cycle_start(home.local_today())
    if raw_days:
        if not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_DAYS:
            raise PeriodError(f"The number of days must be a whole number from 1 to {MAX_DAYS}.")
        days = int(raw_days)
    else:
        days = CYCLE_DAYS
    try:
        end = start + dt.timedelta(days=days - 1)
    except OverflowError:  # 9999-12-31 and a few days: past the calendar, refused below
        end = dt.date.max
    try:
        period_check(start=start, end=end, today=home.local_today())
    except BadPeriod as e:
        raise PeriodError(e.message) from None
    return start, days


def _materialise(home: CareHome, start: dt.date, days: int, unit: Unit | None) -> None:
    """Bring the period's doses within the beat job's window (local yesterday..tomorrow) in
    line before drawing them, at most those three days whatever the period: later days are
    projected by the chart without writing (H-10 downtime MAR; R-SEC-1)."""
    doses_sync_for_read(home=home, start=start, end=start + dt.timedelta(days=days - 1), unit=unit)


def _pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _resident(request, resident_id: int) -> Resident:
    return scoped_get(
        request.user, Perm.VIEW_MAR, Resident.objects.select_related("home", "unit"), pk=resident_id
    )


@require_GET
@requires(Perm.VIEW_MAR)
def resident_mar(request, resident_id: int):
    resident = _resident(request, resident_id)
    home = resident.home
    try:
        start, days = period_from(request.GET, home)
    except PeriodError as e:
        context = {"resident": resident, "home": home, "error": str(e)}
        return render(request, "medications/mar_chart.html", context, status=400)
    _materialise(home, start, days, resident.unit)
    chart = mar_chart(resident=resident, start=start, days=days)
    step = dt.timedelta(days=days)
    context = {
        "resident": resident,
        "home": home,
        "chart": chart,
        "days": days,
        "previous": start - step,
        "next": start + step,
        "current": cycle_start(home.local_today()),
    }
    return render(request, "medications/mar_chart.html", context)


@require_GET
@requires(Perm.VIEW_MAR)
def resident_mar_pdf(request, resident_id: int):
    resident = _resident(request, resident_id)
    try:
        start, days = period_from(request.GET, resident.home)
    except PeriodError as e:
        return HttpResponseBadRequest(str(e), content_type="text/plain; charset=utf-8")
    _materialise(resident.home, start, days, resident.unit)
    chart = mar_chart(resident=resident, start=start, days=days)
    title = f"MAR chart — {resident.full_name}"
    pdf = render_pdf(PRINT_TEMPLATE, print_context([chart], resident.home, title, days))
    return _pdf_response(pdf, f"mar-{slugify(resident.full_name)}-{start:%Y-%m-%d}.pdf")
