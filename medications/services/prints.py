"""MAR charts of a unit or a whole home built in the background (R-MAR-12, H-10).

Drawing the charts of hundreds of residents takes minutes, so the request only queues a
`MarPrint`; a job on the reports queue draws it with progress and stores the PDF under an
unguessable name, served only through a view that checks the reader may see the home's MAR.
A stalled build is retried once and can be retried by staff (`emar.jobs`).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from emar import jobs, permissions
from emar.models import BuildStatus, CareHome, Unit, User
from emar.pdf import render_pdf
from emar.permissions import Perm
from emar.services import DomainError, audit_append
from residents.models import Resident

from ..chart import MAX_DAYS, mar_chart
from ..models import MarPrint
from ..rendering import PRINT_TEMPLATE, print_context, residents_in_print_order
from .mar import doses_sync_for_read

__all__ = ["MAX_OPEN_PRINTS", "PrintError", "mar_print_build", "mar_print_request"]

# A person may have this many prints queued or building at once: a reload loop or a hostile
# user cannot fill the reports queue.
MAX_OPEN_PRINTS = 3


class PrintError(DomainError):
    """A MAR print was refused; `code` is stable."""


@transaction.atomic
def mar_print_request(
    *, home: CareHome, unit: Unit | None, start: dt.date, days: int, by: User
) -> MarPrint:
    """Queue the MAR charts of every current resident of `unit` (or of the whole home)."""
    if not permissions.has_perm(by, Perm.RECORD_DOSE, home):
        raise PrintError("Only staff of this home can print its MAR charts.", code="not_allowed")
    if unit is not None and unit.home_id != home.pk:
        raise PrintError("That unit is not in this home.", code="wrong_home")
    if not 1 <= days <= MAX_DAYS:
        raise PrintError(
            f"The number of days must be a whole number from 1 to {MAX_DAYS}.", code="bad_period"
        )
    open_prints = MarPrint.objects.filter(
        requested_by=by, status__in=[BuildStatus.QUEUED, BuildStatus.BUILDING]
    )
    if len(open_prints.select_for_update()) >= MAX_OPEN_PRINTS:
        raise PrintError(
            f"You already have {MAX_OPEN_PRINTS} MAR prints being built. Wait for one to "
            "finish, then ask again.",
            code="too_many_prints",
        )
    mar_print = MarPrint.objects.create(
        home=home, unit=unit, start=start, days=days, requested_by=by
    )
    audit_append(
        home=home,
        actor=by,
        action="mar_print.requested",
        obj=mar_print,
        after={"unit": unit.name if unit else None, "start": start, "days": days},
    )
    jobs.build_enqueue(mar_print)
    return mar_print


def _residents(mar_print: MarPrint) -> list[Resident]:
    qs = Resident.objects.current().filter(home=mar_print.home).select_related("home", "unit")
    if mar_print.unit_id:
        qs = qs.filter(unit_id=mar_print.unit_id)
    return residents_in_print_order(qs)


def mar_print_build(*, print_id: int, attempt: int | None = None) -> MarPrint:
    """Draw and store the PDF once; a rerun of a ready print, or a job of an earlier attempt,
    does nothing."""
    mar_print = jobs.build_start(model=MarPrint, pk=print_id, attempt=attempt)
    if mar_print is None:
        return MarPrint.objects.get(pk=print_id)
    mar_print = MarPrint.objects.select_related("home", "unit").get(pk=print_id)
    home = mar_print.home
    try:
        jobs.build_progress(mar_print, 2, "Scheduling the period's doses")
        end = mar_print.start + dt.timedelta(days=mar_print.days - 1)
        doses_sync_for_read(home=home, start=mar_print.start, end=end, unit=mar_print.unit)
        residents = _residents(mar_print)
        charts = []
        for i, resident in enumerate(residents):
            jobs.build_progress(
                mar_print, 5 + int(60 * i / max(len(residents), 1)), f"Chart: {resident.full_name}"
            )
            charts.append(mar_chart(resident=resident, start=mar_print.start, days=mar_print.days))
        jobs.build_progress(mar_print, 66, f"Drawing {len(charts)} charts as PDF")
        pdf = render_pdf(
            PRINT_TEMPLATE, print_context(charts, home, mar_print.title, mar_print.days)
        )
    except Exception as e:
        jobs.build_fail(mar_print, str(e))
        raise
    return jobs.build_finish(
        build=mar_print, content=pdf, suffix=".pdf", charts=len(charts), step="Ready"
    )
