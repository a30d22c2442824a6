"""Opened medicines (R-STK-7, H-15): record a pack opened (from the round or the list), record it
finished or discarded, and the "expiring this week" list of a home or unit. Thin views over
medications.services.opened; objects are fetched scoped to the user's homes first (outsider:
404); bad input is a 400 (form) or 422 (a rule) with the message, and writes nothing."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from emar import permissions
from emar.models import Unit
from emar.permissions import Perm, requires, scoped_get
from emar.services import DomainError

from .. import services
from ..forms.opened import OpenedEndForm, OpenedForm
from ..forms.rounds import new_key
from ..models import PrescriptionLine


def _line(request, line_id: int) -> PrescriptionLine:
    return scoped_get(
        request.user,
        Perm.RECORD_DOSE,
        PrescriptionLine.objects.select_related("medicine", "resident", "resident__unit", "home"),
        pk=line_id,
    )


def _back(request, line: PrescriptionLine):
    """Back where the form was (the round or the list), else the resident's unit's round."""
    target = request.POST.get("next", "")
    allowed = (
        reverse("medications:round", args=[line.home_id]),
        reverse("medications:opened_list", args=[line.home_id]),
    )
    if (
        target
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        and target.startswith(allowed)
    ):
        return redirect(target)
    unit = f"?unit={line.resident.unit_id}" if line.resident.unit_id else ""
    return redirect(reverse("medications:round", args=[line.home_id]) + unit)


def _form_page(request, line: PrescriptionLine, form, status: int, end_form=None):
    return render(
        request,
        "medications/stock/opened_form.html",
        {
            "home": line.home,
            "line": line,
            "resident": line.resident,
            "form": form,
            "end_form": end_form,
            "next": request.POST.get("next", ""),
        },
        status=status,
    )


@require_POST
@requires(Perm.RECORD_DOSE)
def supply_open(request, line_id: int):
    line = _line(request, line_id)
    form = OpenedForm(request.POST)
    if not form.is_valid():
        return _form_page(request, line, form, 400)
    d = form.cleaned_data
    try:
        opening = services.supply_open(
            line=line,
            by=request.user,
            opened_at=form.at(line.home),
            batch=d["batch"],
            pack_expiry=d["pack_expiry"],
            note=d["note"],
            idempotency_key=d["idempotency_key"],
        )
    except DomainError as e:
        form.add_error(None, e)
        return _form_page(request, line, form, 422)
    until = f", use until {opening.in_use_expiry:%-d %b %Y}" if opening.in_use_expiry else ""
    if opening.expired_on(line.home.local_today()):
        messages.warning(
            request,
            f"{line.medicine.name} recorded opened{until}: already past its in-use expiry. "
            "Do not use this pack.",
        )
    else:
        messages.success(request, f"{line.medicine.name} recorded opened{until}.")
    return _back(request, line)


@require_POST
@requires(Perm.RECORD_DOSE)
def supply_end(request, line_id: int):
    """The line's pack in use finished or discarded: a new entry."""
    line = _line(request, line_id)
    form = OpenedEndForm(request.POST)
    if not form.is_valid():
        return _form_page(request, line, None, 400, end_form=form)
    opening = line.openings.filter(end__isnull=True).order_by("-opened_at", "-pk").first()
    if opening is None:
        form.add_error(None, "No opened pack of this line is in use.")
        return _form_page(request, line, None, 422, end_form=form)
    d = form.cleaned_data
    try:
        services.supply_end(
            opening=opening,
            by=request.user,
            kind=d["kind"],
            note=d["note"],
            idempotency_key=d["idempotency_key"],
        )
    except DomainError as e:
        form.add_error(None, e)
        return _form_page(request, line, None, 422, end_form=form)
    messages.success(request, f"{line.medicine.name}: pack recorded {d['kind']}.")
    return _back(request, line)


@require_safe
@requires(Perm.VIEW_STOCK)
def opened_list(request, home):
    """Opened packs past their in-use expiry or expiring this week, per home or unit, and the
    live lines of products whose opening has no date recorded (R-STK-7)."""
    units = list(Unit.objects.filter(home=home).order_by("name"))
    raw = request.GET.get("unit", "")
    unit = None
    if raw:
        unit = next((u for u in units if str(u.pk) == raw), None)
        if unit is None:
            return HttpResponseBadRequest("That unit is not in this home.")
    today = home.local_today()
    rows = services.opened_expiring(home=home, today=today, unit=unit)
    undated = services.opened_undated(home=home, today=today, unit=unit)
    return render(
        request,
        "medications/stock/opened.html",
        {
            "home": home,
            "units": units,
            "unit": unit,
            "today": today,
            "week_end": today + dt.timedelta(days=services.opened.EXPIRING_DAYS - 1),
            "rows": rows,
            "undated": undated,
            "can_record": permissions.has_perm(request.user, Perm.RECORD_DOSE, home),
            "end_form": OpenedEndForm(),
            "new_key": new_key,
            "next": request.get_full_path(),
        },
    )
