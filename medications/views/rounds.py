"""The round screen and recording (R-MAR-1..13): thin views over medications.services.

Recording swaps one row in place with htmx; without JavaScript the same forms post normally
and come back to the round (or to the dose page with the reason when refused).
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from emar import permissions
from emar import selectors as core_selectors
from emar.models import Round, Unit
from emar.permissions import Perm, requires
from emar.services import DomainError
from residents.selectors import allergies_active, allergies_recorded

from .. import rounds, selectors, services
from ..forms.rounds import CorrectionForm, DoseForm, FollowUpForm, PrnForm, new_key
from ..models import (
    Administration,
    PaperRound,
    PrescriptionLine,
    PrnProtocol,
    ScheduledDose,
)


def _int(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise ValueError(value)
    return int(value)


def round_url(dose_or_unit, *, round_id=None, day: dt.date | None = None) -> str:
    if isinstance(dose_or_unit, ScheduledDose):
        dose = dose_or_unit
        unit, round_id = dose.unit, dose.round_id
        day = dose.round_date if round_id and dose.round_date else dose.local_date
    else:
        unit = dose_or_unit
    query = f"?unit={unit.pk}"
    if round_id:
        query += f"&round={round_id}"
    if day:
        query += f"&date={day.isoformat()}"
    return reverse("medications:round", args=[unit.home_id]) + query + "#doses"


@require_safe
@requires(Perm.RECORD_DOSE)
def round_view(request, home):
    # A unit on a paper round says so (R-OFF-4), in the same query as the units.
    open_paper = PaperRound.objects.filter(unit=OuterRef("pk"), ended_at__isnull=True)
    units = list(
        Unit.objects.filter(home=home)
        .annotate(paper_since=Subquery(open_paper.values("started_at")[:1]))
        .order_by("name")
    )
    all_rounds = list(Round.objects.filter(home=home).order_by("time"))
    if not units:
        return render(request, "medications/round.html", {"home": home, "screen": None})
    try:
        unit_id = _int(request.GET.get("unit"))
        round_param = request.GET.get("round")
        round_id = None if round_param == "all" else _int(round_param)
        day = (
            dt.date.fromisoformat(request.GET["date"])
            if request.GET.get("date")
            else home.local_today()
        )
    except ValueError:
        return HttpResponseBadRequest("Unknown unit, round or date.")
    now = timezone.now()
    unit = next((u for u in units if u.pk == unit_id), None)
    if unit_id is not None and unit is None:
        return HttpResponseBadRequest("That unit is not in this home.")
    if unit is None:
        shift = core_selectors.open_shift(request.user)
        unit = next((u for u in units if shift and u.pk == shift.unit_id), units[0])
    if round_param == "all":
        round_ = None
    elif round_id is not None:
        round_ = next((r for r in all_rounds if r.pk == round_id), None)
        if round_ is None:
            return HttpResponseBadRequest("That round is not in this home.")
    else:
        round_ = rounds.current_round(home, all_rounds, now)
    if abs((day - home.local_today()).days) > 400:
        return HttpResponseBadRequest("Choose a date within the last year.")
    # Prescription changes resync on commit and beat every 10 minutes; this catches the rest
    # (e.g. a resident moved) at most a minute late without paying for it on every load. A
    # read only writes inside the beat's window (yesterday..tomorrow), whatever day is asked.
    if cache.add(f"emar:doses-synced:{unit.pk}:{day.isoformat()}", True, timeout=60):
        # the night round's doses after midnight are dated the next day
        end = day + dt.timedelta(days=1)
        services.doses_sync_for_read(home=home, start=day, end=end, unit=unit, now=now)
    screen = rounds.round_screen(
        home=home,
        unit=unit,
        round_=round_,
        day=day,
        viewer=request.user,
        rounds=all_rounds,
        now=now,
        units=units,
    )
    core_selectors.current_home_seed(request, home)  # the layout's home, already read
    return render(
        request,
        "medications/round.html",
        {
            "home": home,
            "screen": screen,
            "new_key": new_key,
            "today": home.local_today(),
            "paper_since": unit.paper_since,
        },
    )


def _row_context(request, dose: ScheduledDose, form=None, records=None) -> dict:
    """`records`: the dose's records when the caller already holds them (after recording)."""
    last = (
        services.last_sites([dose.line_id]).get(dose.line_id)
        if services.needs_site(dose.line)
        else None
    )
    now = timezone.now()
    ds = rounds.dose_state(dose, now, records)
    rounds.viewer_checks(
        [ds],
        home=dose.home,
        viewer=request.user,
        now=now,
        allergies={dose.resident_id: allergies_recorded(dose.resident)},
    )
    return {
        "ds": ds,
        "codes": rounds.ReasonCodes(dose.home),
        "form": form,
        "new_key": new_key,
        "last_sites": {dose.line_id: last} if last else {},
        "home": dose.home,
        # The dose page's allergy banner (R-MAR-16); a callable, so the htmx row skips it.
        "allergies": partial(allergies_active, dose.resident),
    }


def _dose(request, dose_id: int) -> ScheduledDose:
    return permissions.scoped_get(
        request.user, Perm.RECORD_DOSE, rounds.dose_for_row(dose_id), pk=dose_id
    )


@require_safe
@requires(Perm.RECORD_DOSE)
def dose_page(request, dose_id: int):
    dose = _dose(request, dose_id)
    return render(request, "medications/dose.html", _row_context(request, dose))


@require_POST
@requires(Perm.RECORD_DOSE)
def dose_record(request, dose_id: int):
    dose = _dose(request, dose_id)
    form = DoseForm(request.POST, home=dose.home)
    status = 200
    record = None
    if not form.is_valid():
        status = 400
    else:
        witness = form.clean_witness(request)
        second = form.second_senior_confirm(request)
        if form.cleaned_data["queued_by"] not in (None, request.user.pk):
            # R-OFF-5: a record queued on the tablet is sent only by the person who made it.
            form.add_error(
                None, "Saved on this tablet by someone else: it is sent when they sign in."
            )
        if form.errors:
            status = 400
        else:
            data = form.cleaned_data
            try:
                record = services.administration_record(
                    dose=dose,
                    by=request.user,
                    idempotency_key=data["idempotency_key"],
                    outcome=data["outcome"],
                    code=data["code"] if data["outcome"] == "not_given" else None,
                    quantity=data["quantity"],
                    quantity_reason=data["quantity_reason"],
                    allergy_confirmed_by=second,
                    administered_at=form.administered_at(),
                    note=data["note"],
                    late_reason=data["late_reason"],
                    witness=witness,
                    body_site=data["body_site"],
                    old_patch_removed=data["old_patch_removed"] or None,
                    covert=data["covert"],
                    sites=data["sites"],
                    **form.scan_kwargs(),
                )
            except DomainError as e:
                form.add_error(None, e)
                status = 409 if e.code == "already_recorded" else 422
    records = None
    if record is not None:  # the row from what is loaded: the records before, and this one
        loaded = getattr(dose, rounds.RECORDS)
        records = [r for r in loaded if r.pk != record.pk] + [record]
    else:
        rounds.refresh_records(dose)  # refused: show what someone else recorded meanwhile
    if request.htmx:
        core_selectors.current_home_seed(request, dose.home)
        context = _row_context(request, dose, form if status != 200 else None, records)
        response = render(request, "medications/partials/dose_row.html", context, status=status)
        # A refusal may come of someone else's record meanwhile (an offline record sent late,
        # R-OFF-2): the counts come with every answer, so the header never says otherwise.
        response.write(_counts_oob(request, dose))
        return response
    if status == 200:
        messages.success(request, f"Recorded: {dose.line.medicine.name} for {dose.resident}.")
        # The back-entry screen of a paper round posts here too, and is returned to (R-OFF-4).
        return redirect(_next_url(request, round_url(dose)))
    return render(
        request, "medications/dose.html", _row_context(request, dose, form), status=status
    )


def _counts_oob(request, dose: ScheduledDose) -> str:
    """The round page's header counts, swapped out of band with the row (R-MAR-1), so a tap
    costs one request. The page the tap came from (htmx's HX-Current-URL) says whether it
    shows the dose's round or its whole day; from any other page, nothing."""
    current = urlsplit(request.htmx.current_url or "")
    if current.path != reverse("medications:round", args=[dose.home_id]):
        return ""
    whole_day = QueryDict(current.query).get("round") == "all"
    counts = rounds.round_counts(dose=dose, whole_day=whole_day, now=timezone.now())
    return render_to_string(
        "medications/partials/round_counts.html", {"c": counts, "oob": True}, request=request
    )


def _next_url(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@requires(Perm.RECORD_DOSE)
def prn_give(request, line_id: int):
    line = permissions.scoped_get(
        request.user,
        Perm.RECORD_DOSE,
        PrescriptionLine.objects.select_related("medicine", "resident", "resident__unit", "home"),
        pk=line_id,
    )
    if not line.is_prn:
        return HttpResponseBadRequest("This is not a PRN line.")
    home = line.home
    protocol = PrnProtocol.objects.filter(line=line).order_by("-written_at", "-pk").first()
    recent = (
        Administration.objects.filter(
            line=line, administered_at__gte=timezone.now() - dt.timedelta(hours=24)
        )
        .select_related("recorded_by", "code")
        .order_by("-administered_at")
    )
    fallback = round_url(line.resident.unit)
    line.resident.active_allergies = allergies_active(line.resident)  # the banner (R-MAR-16)
    allergy_matches = list(
        line.allergy_matches.filter(allergy__removed_at__isnull=True).select_related("allergy")
    )
    last_site, suggested_site = (
        services.patch_site_suggestion(line) if line.needs_site else (None, "")
    )
    status = 200
    if request.method == "POST":
        form = PrnForm(request.POST, home=home, line=line, last_site=last_site)
        status = 400
        if form.is_valid():
            witness = form.clean_witness(request)
            second = form.second_senior_confirm(request)
            if not form.errors:
                data = form.cleaned_data
                try:
                    services.administration_record(
                        line=line,
                        by=request.user,
                        idempotency_key=data["idempotency_key"],
                        outcome="given",
                        quantity=data["quantity"],
                        quantity_reason=data["quantity_reason"],
                        administered_at=form.administered_at(),
                        prn_reason=data["prn_reason"],
                        prn_override_by=second,
                        allergy_confirmed_by=second,
                        **form.override_kwargs(home),
                        witness=witness,
                        body_site=data["body_site"],
                        old_patch_removed=data["old_patch_removed"] or None,
                        sites=data["sites"],
                        **form.scan_kwargs(),
                    )
                except DomainError as e:
                    form.add_error(None, e)
                    status = 422
                else:
                    messages.success(
                        request,
                        f"PRN recorded: {line.medicine.name} for {line.resident}. "
                        "Check how well it worked in an hour.",
                    )
                    return redirect(_next_url(request, fallback))
    else:
        form = PrnForm(
            home=home,
            line=line,
            last_site=last_site,
            initial={
                "idempotency_key": new_key(),
                "quantity": line.dose,
                "body_site": suggested_site,
            },
        )
    checks = _recording_checks(request, line)
    if not checks["override_needed"] and any(
        form.has_error(NON_FIELD_ERRORS, c) for c in ("prn_interval", "prn_max_24h")
    ):
        checks["override_needed"] = "At the time given, a PRN limit is passed."
    return render(
        request,
        "medications/prn_give.html",
        {
            "line": line,
            "resident": line.resident,
            "protocol": protocol,
            "allergy_matches": allergy_matches,
            "recent": recent,
            "form": form,
            "next": _next_url(request, fallback),
            "last_site": last_site,
            "posted_sites": request.POST.getlist("sites") if request.method == "POST" else None,
            **checks,
        },
        status=status,
    )


def _recording_checks(request, line: PrescriptionLine) -> dict:
    """What a recording page needs to show only the fields it needs: the viewer's training
    gate (R-MAR-13), the allergy match (R-MAR-16) and the PRN limits (R-MAR-8)."""
    from training.services import check_administration

    now = timezone.now()
    blocked = next(
        (
            refusal.message
            for c in line.competency_categories()
            if (
                refusal := check_administration(
                    person=request.user, home=line.home, category=c, at=now
                )
            )
        ),
        "",
    )
    allergies = list(line.resident.allergies.filter(removed_at__isnull=True))
    matches = selectors.allergy_matches(line.medicine, allergies) if allergies else []
    limits, override_needed = None, ""
    if line.is_prn:
        try:
            limits = services.prn_limits(line)
        except DomainError:
            limits = None
        override_needed = services.prn_limit_reached(line=line, at=now)
    return {
        "override_needed": override_needed,
        "blocked": blocked,
        "allergy_match": ", ".join(a.substance for a in matches),
        "prn_limits": limits,
    }


@require_POST
@requires(Perm.RECORD_DOSE)
def prn_follow_up(request, administration_id: int):
    record = permissions.scoped_get(
        request.user,
        Perm.RECORD_DOSE,
        Administration.objects.select_related("line", "resident", "resident__unit", "home"),
        pk=administration_id,
    )
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            services.prn_follow_up_record(
                administration=record, by=request.user, **form.cleaned_data
            )
        except DomainError as e:
            messages.error(request, e.message)
            return redirect(_next_url(request, round_url(record.resident.unit)))
        messages.success(request, "Follow-up recorded.")
    else:
        messages.error(request, "Choose how well the PRN dose worked.")
    return redirect(_next_url(request, round_url(record.resident.unit)))


@requires(Perm.RECORD_DOSE)
def correct(request, administration_id: int):
    original = permissions.scoped_get(
        request.user,
        Perm.RECORD_DOSE,
        Administration.objects.select_related(
            "line", "line__medicine", "resident", "recorded_by", "code", "home", "dose"
        ),
        pk=administration_id,
    )
    status = 200
    if request.method == "POST":
        form = CorrectionForm(request.POST, home=original.home)
        status = 400
        if form.is_valid():
            witness = form.clean_witness(request)
            second = form.second_senior_confirm(request)
            if not form.errors:
                data = form.cleaned_data
                extra = form.override_kwargs(original.home) if original.line.is_prn else {}
                try:
                    services.administration_correct(
                        original=original,
                        by=request.user,
                        reason=data["reason"],
                        idempotency_key=data["idempotency_key"],
                        outcome=data["outcome"],
                        code=data["code"],
                        quantity=data["quantity"],
                        quantity_reason=data["quantity_reason"],
                        administered_at=form.administered_at(),
                        note=data["note"],
                        witness=witness,
                        prn_override_by=second if original.line.is_prn else None,
                        allergy_confirmed_by=second,
                        **extra,
                    )
                except DomainError as e:
                    form.add_error(None, e)
                    status = 422
                else:
                    messages.success(
                        request,
                        "Record voided: the dose is open again while its time allows."
                        if data["outcome"] == "in_error"
                        else "Correction recorded; the original stays visible.",
                    )
                    if original.dose:
                        return redirect(round_url(original.dose))
                    return redirect(
                        "medications:resident_profile", resident_id=original.resident_id
                    )
    else:
        form = CorrectionForm(
            home=original.home,
            initial={"idempotency_key": new_key(), "quantity": original.quantity},
        )
    return render(
        request,
        "medications/correct.html",
        {
            "original": original,
            "resident": original.resident,
            "allergies": allergies_active(original.resident),
            "form": form,
            **_recording_checks(request, original.line),
        },
        status=status,
    )


@requires(Perm.RECORD_DOSE)
def homely_remedy(request, resident_id: int):
    """R-MAR-11: a homely remedy from the home's list, for a resident whose GP or pharmacist
    authorised it; a duplicate ingredient or allergy match needs a second senior's password
    or PIN and reason. Every rule is in `services.homely_remedy_give`."""
    from residents.models import Resident

    from ..forms.rounds import HomelyRemedyForm
    from ..models import HomelyRemedyDose

    resident = permissions.scoped_get(
        request.user,
        Perm.RECORD_DOSE,
        Resident.objects.select_related("unit", "home"),
        pk=resident_id,
    )
    status = 200
    if request.method == "POST":
        form = HomelyRemedyForm(request.POST, home=resident.home)
        status = 400
        if form.is_valid():
            override_by = form.second_senior_confirm(request)
            if not form.errors:
                data = form.cleaned_data
                try:
                    dose = services.homely_remedy_give(
                        resident=resident,
                        remedy=data["remedy"],
                        by=request.user,
                        quantity=data["quantity"],
                        reason=data["reason"],
                        idempotency_key=data["idempotency_key"],
                        override_by=override_by,
                        override_reason=data["override_reason"],
                    )
                except DomainError as e:
                    form.add_error(None, e)
                    status = 422
                else:
                    messages.success(request, f"Homely remedy recorded for {resident}.")
                    if warning := getattr(dose, "stock_warning", ""):
                        messages.warning(request, warning)
                    return redirect(_next_url(request, round_url(resident.unit)))
    else:
        form = HomelyRemedyForm(home=resident.home, initial={"idempotency_key": new_key()})
    recent = (
        HomelyRemedyDose.objects.filter(resident=resident)
        .select_related("remedy__medicine", "recorded_by", "override_by")
        .order_by("-administered_at")[:10]
    )
    return render(
        request,
        "medications/homely_remedy.html",
        {
            "resident": resident,
            "allergies": allergies_active(resident),
            "authorisations": services.homely_authorisations_in_force(resident),
            "today": resident.home.local_today(),
            "form": form,
            "recent": recent,
            "next": _next_url(request, ""),
            "can_authorise": permissions.has_perm(
                request.user, Perm.CHECK_PRESCRIPTION, resident.home
            ),
        },
        status=status,
    )
