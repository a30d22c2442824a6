"""Thin views of prescriptions, and the resident list and profile (which show them).

Every object is looked up scoped to the user's homes before any input is read: an outsider
gets 404, an insider whose role lacks the permission 403 (R-ORG-2, R-SEC-1).
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from emar import permissions
from emar.models import Unit
from emar.permissions import Perm, requires, scoped_get
from emar.services import DomainError
from residents import selectors as resident_selectors
from residents.models import Resident

from .. import selectors, services
from ..forms import prescriptions as forms
from ..models import (
    HomelyRemedyAuthorisation,
    LineStatus,
    PrescriptionLine,
    ScheduleVersion,
    VariableDose,
)


def _resident(request, perm: Perm, resident_id: int) -> Resident:
    return scoped_get(
        request.user, perm, Resident.objects.select_related("home", "unit"), pk=resident_id
    )


def _line(request, perm: Perm, line_id: int) -> PrescriptionLine:
    return scoped_get(
        request.user,
        perm,
        PrescriptionLine.objects.select_related(
            "home", "resident", "resident__unit", "medicine", "entered_by", "checked_by"
        ),
        pk=line_id,
    )


def _page(request, template: str, context: dict, *, ok: bool = True):
    return render(request, template, context, status=200 if ok else 400)


def _to_profile(line_or_resident):
    resident_id = getattr(line_or_resident, "resident_id", None) or line_or_resident.pk
    return redirect("medications:resident_profile", resident_id=resident_id)


@require_GET
@requires(Perm.VIEW_RESIDENTS)
def resident_list(request, home):
    units = list(Unit.objects.filter(home=home).order_by("name"))
    unit = None
    unit_param = request.GET.get("unit", "")
    if unit_param:
        unit = next((u for u in units if str(u.pk) == unit_param), None)
    show_left = request.GET.get("left") == "1"
    residents = list(resident_selectors.residents_of(home, unit=unit, current=not show_left))
    today = home.local_today()
    flags = selectors.resident_flags(home, [r.pk for r in residents])
    rows = [
        {
            "resident": r,
            "review_overdue": r.is_current and r.review_overdue(today, r.last_review),
            **flags[r.pk],
        }
        for r in residents
    ]
    context = {
        "home": home,
        "units": units,
        "unit": unit,
        "rows": rows,
        "show_left": show_left,
        "can_manage": permissions.has_perm(request.user, Perm.MANAGE_RESIDENTS, home),
        "awaiting": selectors.lines_awaiting_check(home).count(),
    }
    return render(request, "residents/list.html", context)


@require_GET
@requires(Perm.VIEW_RESIDENTS)
def resident_profile(request, resident_id: int):
    resident = _resident(request, Perm.VIEW_RESIDENTS, resident_id)
    home = resident.home
    today = home.local_today()
    lines = list(selectors.lines_of(resident))
    for line in lines:
        line.latest_protocol = line.protocols.all()[0] if line.protocols.all() else None
        line.latest_covert = line.covert_plans.all()[0] if line.covert_plans.all() else None
        line.latest_self_admin = line.assessments[0] if line.assessments else None
        versions = list(line.versions.all())
        live = [v for v in versions if v.effective_from is not None]
        line.current_schedule = live[-1] if live else (versions[0] if versions else None)
        line.pending_change = next((v for v in versions if v.checked_at is None and live), None)
    user = request.user
    context = {
        "resident": resident,
        "home": home,
        "today": today,
        "record": resident_selectors.resident_record(resident),
        "live_lines": [ln for ln in lines if ln.status == LineStatus.ACTIVE],
        "awaiting_lines": [ln for ln in lines if ln.status == LineStatus.AWAITING_CHECK],
        "stopped_lines": [ln for ln in lines if ln.status == LineStatus.STOPPED],
        "can_manage": permissions.has_perm(user, Perm.MANAGE_RESIDENTS, home),
        "can_prescribe": permissions.has_perm(user, Perm.ENTER_PRESCRIPTION, home),
        "can_record": permissions.has_perm(user, Perm.RECORD_DOSE, home),
        "can_check": permissions.has_perm(user, Perm.CHECK_PRESCRIPTION, home),
        "away": resident.absences.filter(returned_at__isnull=True).first(),
        "held_lines": services.lines_held(resident) if resident.is_current else [],
    }
    return render(request, "residents/profile.html", context)


@requires(Perm.CHECK_PRESCRIPTION)
def line_restarts(request, resident_id: int):
    """After a return or readmission, a senior confirms each held line: unchanged, changed or
    stopped (R-RES-6, H-16)."""
    resident = _resident(request, Perm.CHECK_PRESCRIPTION, resident_id)
    form = forms.LineRestartForm(request.POST or None, resident=resident)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            restart = services.line_restart_confirm(
                line=data["line"],
                by=request.user,
                decision=data["decision"],
                note=data["note"],
                authorised_by=data["authorised_by"],
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request, f"{data['line'].medicine.name}: {restart.get_decision_display().lower()}."
            )
            return redirect("medications:line_restarts", resident_id=resident.pk)
    context = {
        "resident": resident,
        "home": resident.home,
        "held": services.lines_held(resident),
        "form": form,
    }
    return render(
        request,
        "medications/line_restarts.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


@requires(Perm.ENTER_PRESCRIPTION)
def line_new(request, resident_id: int):
    resident = _resident(request, Perm.ENTER_PRESCRIPTION, resident_id)
    home = resident.home
    query = request.GET.get("q", "")[:100]
    form = forms.LineForm(
        request.POST or None,
        home=home,
        query=query,
        initial={
            "start_date": home.local_today(),
            "tolerance_minutes": 15,
            "days": "daily",
            "dose_rule": "fixed",
            "route": "oral",
            "dose_unit": "tablet",
            "source": "gp",
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            line = services.line_create(resident=resident, by=request.user, **form.line_kwargs())
        except DomainError as e:
            form.add_error(None, e)
            if e.code == "allergy_match":
                form.add_error(
                    "allergy_override_reason",
                    "Give the prescriber's reason to continue, or cancel.",
                )
        else:
            messages.success(
                request,
                f"{line.medicine} entered: it needs a second senior's "
                "check before it goes on rounds.",
            )
            return _to_profile(resident)
    ok = request.method != "POST"
    return _page(
        request,
        "medications/line_new.html",
        {"resident": resident, "form": form, "query": query},
        ok=ok,
    )


@require_GET
@requires(Perm.VIEW_RESIDENTS)
def line_detail(request, line_id: int):
    line = _line(request, Perm.VIEW_RESIDENTS, line_id)
    context = {
        "line": line,
        "resident": line.resident,
        "versions": line.versions.select_related("created_by", "checked_by"),
        "protocols": line.protocols.select_related("written_by"),
        "covert_plans": line.covert_plans.select_related("recorded_by"),
        "assessments": line.self_admin_assessments.select_related("assessed_by"),
        "variable_doses": line.variable_doses.select_related("entered_by", "checked_by").order_by(
            "-day", "-entered_at"
        )[:60],
        "today": line.home.local_today(),
        "can_prescribe": permissions.has_perm(request.user, Perm.ENTER_PRESCRIPTION, line.home),
        "can_check": permissions.has_perm(request.user, Perm.CHECK_PRESCRIPTION, line.home),
    }
    return render(request, "medications/line_detail.html", context)


@requires(Perm.CHECK_PRESCRIPTION)
def line_check(request, line_id: int):
    line = _line(request, Perm.CHECK_PRESCRIPTION, line_id)
    form = forms.CheckForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.line_check(
                line=line, by=request.user, idempotency_key=form.cleaned_data["idempotency_key"]
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, f"{line.medicine} checked: it is now live.")
            return _to_profile(line)
    ok = request.method != "POST"
    context = {
        "line": line,
        "resident": line.resident,
        "form": form,
        "schedule": line.versions.order_by("created_at").first(),
    }
    return _page(request, "medications/line_check.html", context, ok=ok)


def _line_form_view(
    request,
    line_id: int,
    *,
    perm: Perm,
    form_class,
    template: str,
    service,
    success: str,
    initial: dict | None = None,
):
    line = _line(request, perm, line_id)
    form = form_class(request.POST or None, initial=initial or {})
    if request.method == "POST" and form.is_valid():
        try:
            service(line=line, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, success)
            return redirect("medications:line_detail", line_id=line.pk)
    ok = request.method != "POST"
    return _page(request, template, {"line": line, "resident": line.resident, "form": form}, ok=ok)


@requires(Perm.ENTER_PRESCRIPTION)
def line_stop(request, line_id: int):
    return _line_form_view(
        request,
        line_id,
        perm=Perm.ENTER_PRESCRIPTION,
        form_class=forms.StopForm,
        template="medications/line_stop.html",
        service=services.line_stop,
        success="Line stopped: it leaves rounds from now.",
    )


@requires(Perm.ENTER_PRESCRIPTION)
def prn_protocol(request, line_id: int):
    return _line_form_view(
        request,
        line_id,
        perm=Perm.ENTER_PRESCRIPTION,
        form_class=forms.PrnProtocolForm,
        template="medications/prn_protocol.html",
        service=services.prn_protocol_write,
        success="PRN protocol saved.",
    )


@requires(Perm.ENTER_PRESCRIPTION)
def covert_plan(request, line_id: int):
    return _line_form_view(
        request,
        line_id,
        perm=Perm.ENTER_PRESCRIPTION,
        form_class=forms.CovertPlanForm,
        template="medications/covert_plan.html",
        service=services.covert_plan_record,
        success="Covert plan attached.",
    )


@requires(Perm.ENTER_PRESCRIPTION)
def self_admin(request, line_id: int):
    return _line_form_view(
        request,
        line_id,
        perm=Perm.ENTER_PRESCRIPTION,
        form_class=forms.SelfAdminForm,
        template="medications/self_admin.html",
        service=services.self_admin_assess,
        success="Self-administration assessment saved.",
    )


@requires(Perm.ENTER_PRESCRIPTION)
def variable_doses(request, line_id: int):
    line = _line(request, Perm.ENTER_PRESCRIPTION, line_id)
    return _line_form_view(
        request,
        line_id,
        perm=Perm.ENTER_PRESCRIPTION,
        form_class=forms.VariableDoseForm,
        template="medications/variable_dose.html",
        service=services.variable_dose_set,
        success="Dose entered: a second senior must check it before it goes on the round.",
        initial={"day": line.home.local_today()},
    )


@require_POST
@requires(Perm.CHECK_PRESCRIPTION)
def variable_dose_check(request, variable_dose_id: int):
    """R-RX-3, R-RX-4: a second, different senior checks a variable dose."""
    entry = scoped_get(
        request.user,
        Perm.CHECK_PRESCRIPTION,
        VariableDose.objects.select_related("line", "line__home", "line__medicine"),
        home_field="line__home",
        pk=variable_dose_id,
    )
    try:
        services.variable_dose_check(entry=entry, by=request.user)
    except DomainError as e:
        messages.error(request, e.messages[0])
        return render(
            request,
            "medications/awaiting_check.html",
            _awaiting_context(request, entry.line.home, error=e.messages[0]),
            status=422,
        )
    messages.success(
        request,
        f"{entry.line.medicine.name} dose for {entry.day:%-d %b} checked: it is on the round.",
    )
    return redirect("medications:awaiting_check", home_id=entry.line.home_id)


@requires(Perm.ENTER_PRESCRIPTION)
def schedule_change(request, line_id: int):
    line = _line(request, Perm.ENTER_PRESCRIPTION, line_id)
    form = forms.ScheduleChangeForm(request.POST or None, home=line.home)
    if request.method == "POST" and form.is_valid():
        when = form.cleaned_data.get("effective_from")
        if when is not None and timezone.is_naive(when):
            when = timezone.make_aware(when, line.home.tz)
        try:
            services.schedule_change(
                line=line,
                by=request.user,
                schedule=form.schedule_input(),
                effective_from=when,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Schedule change entered: a second senior must check it.")
            return redirect("medications:line_detail", line_id=line.pk)
    ok = request.method != "POST"
    return _page(
        request,
        "medications/schedule_change.html",
        {"line": line, "resident": line.resident, "form": form},
        ok=ok,
    )


@require_POST
@requires(Perm.CHECK_PRESCRIPTION)
def schedule_check(request, version_id: int):
    version = scoped_get(
        request.user,
        Perm.CHECK_PRESCRIPTION,
        ScheduleVersion.objects.select_related("line", "line__home"),
        home_field="line__home",
        pk=version_id,
    )
    try:
        services.schedule_version_check(version=version, by=request.user)
    except DomainError as e:
        messages.error(request, e.messages[0])
        line = version.line
        return _page(
            request,
            "medications/line_detail.html",
            {
                "line": line,
                "resident": line.resident,
                "versions": line.versions.all(),
                "protocols": line.protocols.all(),
                "covert_plans": line.covert_plans.all(),
                "assessments": line.self_admin_assessments.all(),
                "variable_doses": line.variable_doses.all()[:60],
                "today": line.home.local_today(),
                "can_prescribe": True,
                "can_check": True,
                "check_error": e.messages[0],
            },
            ok=False,
        )
    messages.success(request, "Schedule change checked: it applies from now.")
    return redirect("medications:line_detail", line_id=version.line_id)


@require_GET
@requires(Perm.CHECK_PRESCRIPTION)
def awaiting_check(request, home):
    return render(request, "medications/awaiting_check.html", _awaiting_context(request, home))


def _awaiting_context(request, home, *, error: str = "") -> dict:
    return {
        "home": home,
        "lines": selectors.lines_awaiting_check(home),
        "pharmacy_lines": services.pharmacy_imports_waiting(home).count(),
        "changes": selectors.schedule_changes_awaiting_check(home),
        "variable_doses": selectors.variable_doses_awaiting_check(home),
        "overdue": selectors.overdue_plans(home, home.local_today()),
        "check_error": error,
    }


@requires(Perm.VIEW_RESIDENTS)
def homely_authorisations(request, resident_id: int):
    """R-MAR-11: the resident's homely remedy authorisations; a senior records a new one."""
    resident = _resident(request, Perm.VIEW_RESIDENTS, resident_id)
    can_authorise = permissions.has_perm(request.user, Perm.CHECK_PRESCRIPTION, resident.home)
    form = forms.HomelyAuthorisationForm(request.POST or None, home=resident.home)
    status = 200
    if request.method == "POST":
        permissions.require(request.user, Perm.CHECK_PRESCRIPTION, resident.home_id)
        status = 400
        if form.is_valid():
            try:
                services.homely_authorisation_record(
                    resident=resident, by=request.user, **form.cleaned_data
                )
            except DomainError as e:
                form.add_error(None, e)
                status = 422
            else:
                messages.success(request, "Authorisation recorded.")
                return redirect("medications:homely_authorisations", resident_id=resident.pk)
    return render(
        request,
        "medications/homely_authorisations.html",
        {
            "resident": resident,
            "allergies": list(resident.allergies.filter(removed_at__isnull=True)),
            "authorisations": services.homely_authorisations_in_force(resident),
            "today": resident.home.local_today(),
            "form": form,
            "withdraw_form": forms.WithdrawForm(),
            "can_authorise": can_authorise,
        },
        status=status,
    )


@require_POST
@requires(Perm.CHECK_PRESCRIPTION)
def homely_authorisation_withdraw(request, authorisation_id: int):
    authorisation = scoped_get(
        request.user,
        Perm.CHECK_PRESCRIPTION,
        HomelyRemedyAuthorisation.objects.select_related("resident"),
        pk=authorisation_id,
    )
    form = forms.WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the authorisation is withdrawn.")
    else:
        try:
            services.homely_authorisation_withdraw(
                authorisation=authorisation, by=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as e:
            messages.error(request, e.messages[0])
        else:
            messages.success(request, "Authorisation withdrawn: the remedy cannot be given.")
    return redirect("medications:homely_authorisations", resident_id=authorisation.resident_id)
