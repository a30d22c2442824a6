"""MAR prints of a unit or the whole home, built in the background (R-MAR-12, H-10): a page to
ask for one and follow its progress (htmx), and the download of the stored PDF, only for people
who may see the home's MAR charts (anyone else gets 404)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from emar import jobs, permissions
from emar.models import CareHome, Unit
from emar.permissions import Perm, requires, scoped_get

from ..chart import CYCLE_DAYS, MAX_DAYS, cycle_start
from ..models import MarPrint
from ..services import PrintError, downtime_kit_latest
from ..services import mar_print_request as request_print
from .chart import PeriodError, period_from


class MarPrintForm(forms.Form):
    unit = forms.ModelChoiceField(
        queryset=Unit.objects.none(), required=False, empty_label="The whole home"
    )
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, initial=CYCLE_DAYS)

    def __init__(self, *args, home: CareHome, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.filter(home=home).order_by("name")
        self.fields["unit"].error_messages["invalid_choice"] = "Choose a unit of this home."


def _page(request, home: CareHome, form: MarPrintForm, status: int = 200, error: str = ""):
    context = {
        "home": home,
        "form": form,
        "error": error,
        "prints": MarPrint.objects.filter(home=home)
        .select_related("unit", "requested_by")
        .order_by("-requested_at", "-pk")[:20],
        "can_print": permissions.has_perm(request.user, Perm.RECORD_DOSE, home),
        "stale_minutes": settings.BUILD_STALE_MINUTES,
    }
    return render(request, "medications/mar_prints.html", context, status=status)


@require_GET
@requires(Perm.VIEW_MAR)
def mar_prints(request, home: CareHome):
    """The home's recent MAR prints and the form to ask for one (`?unit=&start=&days=`)."""
    initial = {"start": cycle_start(home.local_today()), "days": CYCLE_DAYS}
    unit_id = request.GET.get("unit", "")
    if unit_id.isdigit():
        initial["unit"] = Unit.objects.filter(home=home, pk=int(unit_id)).first()
    if request.GET.get("start") or request.GET.get("days"):
        try:
            initial["start"], initial["days"] = period_from(request.GET, home)
        except PeriodError as e:
            return _page(request, home, MarPrintForm(home=home, initial=initial), 400, str(e))
    return _page(request, home, MarPrintForm(home=home, initial=initial))


@require_GET
@requires(Perm.VIEW_MAR)
def unit_mar_pdf(request, home: CareHome, unit_id: int):
    """The unit's printable downtime MAR (H-10) is built in the background: this address leads
    to the print page with the unit and period filled in."""
    unit = get_object_or_404(Unit, home=home, pk=unit_id)
    try:
        start, days = period_from(request.GET, home)
    except PeriodError as e:
        return HttpResponseBadRequest(str(e), content_type="text/plain; charset=utf-8")
    query = urlencode({"unit": unit.pk, "start": start.isoformat(), "days": days})
    return redirect(reverse("medications:mar_prints", args=[home.pk]) + f"?{query}")


@require_POST
@requires(Perm.RECORD_DOSE)
def mar_print_new(request, home: CareHome):
    form = MarPrintForm(request.POST, home=home)
    error = ""
    if form.is_valid():
        try:
            start, days = period_from(request.POST, home)
            mar_print = request_print(
                home=home,
                unit=form.cleaned_data["unit"],
                start=start,
                days=days,
                by=request.user,
            )
        except PeriodError as e:
            error = str(e)
        except PrintError as e:
            error = e.message
        else:
            messages.success(request, "The MAR charts are being printed: this page shows progress.")
            return redirect(
                reverse("medications:mar_prints", args=[home.pk]) + f"#print-{mar_print.pk}"
            )
    return _page(request, home, form, 400, error)


def _print(request, print_id: int, perm: Perm = Perm.VIEW_MAR) -> MarPrint:
    return scoped_get(
        request.user,
        perm,
        MarPrint.objects.select_related("home", "unit", "requested_by"),
        pk=print_id,
    )


@require_GET
@requires(Perm.VIEW_MAR)
def mar_print_status(request, print_id: int):
    """The htmx poll while the print builds."""
    mar_print = _print(request, print_id)
    context = {
        "p": mar_print,
        "can_print": permissions.has_perm(request.user, Perm.RECORD_DOSE, mar_print.home),
    }
    return render(request, "medications/partials/mar_print_status.html", context)


@require_GET
@requires(Perm.VIEW_MAR)
def mar_print_download(request, print_id: int):
    """The stored PDF, only through this check (never a public address)."""
    mar_print = _print(request, print_id)
    if not mar_print.is_ready:
        return HttpResponse(
            "These MAR charts are not ready yet: wait for the progress bar to finish.",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    where = slugify(mar_print.unit.name if mar_print.unit_id else mar_print.home.name)
    response = FileResponse(
        mar_print.file.open("rb"),
        as_attachment=True,
        filename=f"mar-{where}-{mar_print.start:%Y-%m-%d}.pdf",
    )
    response["Content-Type"] = "application/pdf"
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@requires(Perm.RECORD_DOSE)
def mar_print_retry(request, print_id: int):
    """Staff ask again for a print that failed or stopped."""
    mar_print = _print(request, print_id, Perm.RECORD_DOSE)
    try:
        jobs.build_retry(build=mar_print, by=request.user)
    except jobs.BuildError as e:
        return HttpResponseBadRequest(e.message, content_type="text/plain; charset=utf-8")
    messages.success(request, "Trying again: this page shows progress.")
    return redirect(
        reverse("medications:mar_prints", args=[mar_print.home_id]) + f"#print-{mar_print.pk}"
    )


@require_GET
@requires(Perm.VIEW_MAR)
def downtime_mar(request, home: CareHome, unit_id: int):
    """The unit's latest downtime kit (R-OFF-4, H-10): the MAR of the next three days and the
    CD register pages, built in the background, served only through this check."""
    unit = get_object_or_404(Unit, home=home, pk=unit_id)
    kit = downtime_kit_latest(unit=unit)
    if kit is None:
        return HttpResponse(
            f"The downtime MAR of {unit.name} has not been built yet: it is built within "
            f"{settings.DOWNTIME_KIT_DEBOUNCE_MINUTES} minutes of a prescription change and "
            "every night. Until then, print the unit's MAR charts from the MAR prints page.",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    response = FileResponse(
        kit.file.open("rb"),
        as_attachment=True,
        filename=f"downtime-mar-{slugify(unit.name)}-{kit.start:%Y-%m-%d}.pdf",
    )
    response["Content-Type"] = "application/pdf"
    response["Cache-Control"] = "private, no-store"
    return response
