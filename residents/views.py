"""Thin views of the resident record. Each looks the object up scoped to the user's homes
(outsider 404, insider without the permission 403) before it reads any input.

The resident list and profile live in medications.views: they show prescriptions, and
residents knows nothing of medications (STYLE.md).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from emar.permissions import Perm, requires, scoped_get
from emar.services import DomainError

from . import forms, selectors, services
from .models import Absence, Allergy, Discrepancy, Reconciliation, Resident


def _resident(request, perm: Perm, resident_id: int) -> Resident:
    return scoped_get(
        request.user, perm, Resident.objects.select_related("home", "unit"), pk=resident_id
    )


def _profile(resident: Resident):
    return redirect(reverse("medications:resident_profile", args=[resident.pk]))


def _page(request, template: str, context: dict, *, ok: bool = True):
    return render(request, template, context, status=200 if ok else 400)


@requires(Perm.MANAGE_RESIDENTS)
def resident_admit(request, home):
    form = forms.AdmitForm(request.POST or None, request.FILES or None, home=home)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            resident = services.resident_admit(
                home=home,
                unit=data["unit"],
                by=request.user,
                room=data["room"],
                admitted_on=data["admitted_on"],
                allergy_status=data["allergy_status"],
                photo=data.get("photo") or None,
                idempotency_key=data["idempotency_key"],
                **form.details(),
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, f"{resident} admitted to {resident.unit.name}.")
            return _profile(resident)
    ok = request.method != "POST"
    return _page(request, "residents/admit.html", {"home": home, "form": form}, ok=ok)


@requires(Perm.MANAGE_RESIDENTS)
def resident_edit(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    form = forms.ResidentDetailsForm(request.POST or None, request.FILES or None, instance=resident)
    if request.method == "POST" and form.is_valid():
        try:
            services.resident_update(
                resident=resident,
                by=request.user,
                photo=form.cleaned_data.get("photo") or None,
                **form.details(),
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Details saved.")
            return _profile(resident)
    if request.method == "POST":
        resident.refresh_from_db()
    ok = request.method != "POST"
    return _page(request, "residents/edit.html", {"resident": resident, "form": form}, ok=ok)


def _placeholder(resident: Resident) -> HttpResponse:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120"'
        ' role="img" aria-label="No photo">'
        '<rect width="120" height="120" fill="#dfe6ec"/>'
        '<text x="60" y="72" font-family="sans-serif" font-size="40" text-anchor="middle"'
        f' fill="#0b4f7c">{escape(resident.initials)}</text></svg>'
    )
    return HttpResponse(svg, content_type="image/svg+xml")


@require_GET
@cache_control(private=True, no_store=True)  # a face on a shared tablet (R-SEC-3)
@requires(Perm.VIEW_RESIDENTS)
def resident_photo(request, resident_id: int):
    """The only way to see a photo (R-SEC-5): scoped, permission-checked, never a public URL."""
    resident = _resident(request, Perm.VIEW_RESIDENTS, resident_id)
    if not resident.photo:
        return _placeholder(resident)
    try:
        handle = resident.photo.open("rb")
    except FileNotFoundError:
        return _placeholder(resident)
    response = FileResponse(handle, content_type=resident.photo_content_type or "image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response


def _allergy_page(request, resident, *, add=None, status=None, remove=None, ok=True):
    context = {
        "resident": resident,
        "record": selectors.resident_record(resident),
        "add_form": add or forms.AllergyForm(),
        "status_form": status or forms.AllergyStatusForm(),
        "remove_form": remove or forms.AllergyRemoveForm(),
    }
    return _page(request, "residents/allergies.html", context, ok=ok)


@requires(Perm.MANAGE_RESIDENTS)
def resident_allergies(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    if request.method != "POST":
        return _allergy_page(request, resident)
    form = forms.AllergyForm(request.POST)
    if form.is_valid():
        try:
            services.allergy_add(resident=resident, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, f"Allergy to {form.cleaned_data['substance']} recorded.")
            return redirect("resident_allergies", resident_id=resident.pk)
    return _allergy_page(request, resident, add=form, ok=False)


@require_POST
@requires(Perm.MANAGE_RESIDENTS)
def allergy_status(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    form = forms.AllergyStatusForm(request.POST)
    if form.is_valid():
        try:
            services.allergy_status_set(
                resident=resident,
                by=request.user,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Allergy status saved.")
            return redirect("resident_allergies", resident_id=resident.pk)
    resident.refresh_from_db()
    return _allergy_page(request, resident, status=form, ok=False)


@require_POST
@requires(Perm.MANAGE_RESIDENTS)
def allergy_remove(request, allergy_id: int):
    allergy = scoped_get(
        request.user,
        Perm.MANAGE_RESIDENTS,
        Allergy.objects.select_related("resident", "resident__home"),
        home_field="resident__home",
        pk=allergy_id,
    )
    form = forms.AllergyRemoveForm(request.POST)
    if form.is_valid():
        try:
            services.allergy_remove(
                allergy=allergy,
                by=request.user,
                reason=form.cleaned_data["reason"],
                new_status=form.cleaned_data["new_status"],
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, f"Allergy to {allergy.substance} removed (kept on record).")
            return redirect("resident_allergies", resident_id=allergy.resident_id)
    return _allergy_page(request, allergy.resident, remove=form, ok=False)


@requires(Perm.MANAGE_RESIDENTS)
def resident_move(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    form = forms.MoveForm(
        request.POST or None,
        home=resident.home,
        initial={"unit": resident.unit_id, "room": resident.room},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.resident_move(resident=resident, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Move recorded.")
            return _profile(resident)
    ok = request.method != "POST"
    return _page(request, "residents/move.html", {"resident": resident, "form": form}, ok=ok)


@requires(Perm.MANAGE_RESIDENTS)
def resident_leave(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    form = forms.LeaveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.resident_leave(resident=resident, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                f"{resident} is recorded as {form.cleaned_data['status']}. The record is kept.",
            )
            return _profile(resident)
    ok = request.method != "POST"
    return _page(request, "residents/leave.html", {"resident": resident, "form": form}, ok=ok)


@requires(Perm.MANAGE_RESIDENTS)
def reconciliation_new(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    form = forms.ReconciliationForm(
        request.POST or None, initial={"arrived_on": resident.home.local_today()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            rec = services.reconciliation_start(
                resident=resident, by=request.user, **form.cleaned_data
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            return redirect("reconciliation_detail", reconciliation_id=rec.pk)
    ok = request.method != "POST"
    return _page(
        request, "residents/reconciliation_new.html", {"resident": resident, "form": form}, ok=ok
    )


def _reconciliation(request, perm: Perm, reconciliation_id: int) -> Reconciliation:
    return scoped_get(
        request.user,
        perm,
        Reconciliation.objects.select_related(
            "resident", "resident__home", "started_by", "completed_by"
        ),
        home_field="resident__home",
        pk=reconciliation_id,
    )


def _reconciliation_page(request, rec, *, form=None, error: str = "", ok=True):
    context = {
        "error": error,
        "rec": rec,
        "resident": rec.resident,
        "discrepancies": rec.discrepancies.select_related("recorded_by", "resolved_by"),
        "rec_documents": rec.documents.select_related(
            "uploaded_by", "withdrawal", "withdrawal__withdrawn_by"
        ),
        "form": form or forms.DiscrepancyForm(),
        "resolve_form": forms.ResolveForm(),
        "can_manage": True,
    }
    return _page(request, "residents/reconciliation.html", context, ok=ok)


@requires(Perm.VIEW_RESIDENTS)
def reconciliation_detail(request, reconciliation_id: int):
    perm = Perm.MANAGE_RESIDENTS if request.method == "POST" else Perm.VIEW_RESIDENTS
    rec = _reconciliation(request, perm, reconciliation_id)
    if request.method != "POST":
        return _reconciliation_page(request, rec)
    form = forms.DiscrepancyForm(request.POST)
    if form.is_valid():
        try:
            services.discrepancy_add(reconciliation=rec, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            return redirect("reconciliation_detail", reconciliation_id=rec.pk)
    return _reconciliation_page(request, rec, form=form, ok=False)


@require_POST
@requires(Perm.MANAGE_RESIDENTS)
def reconciliation_complete(request, reconciliation_id: int):
    rec = _reconciliation(request, Perm.MANAGE_RESIDENTS, reconciliation_id)
    try:
        services.reconciliation_complete(reconciliation=rec, by=request.user)
    except DomainError as e:
        return _reconciliation_page(request, rec, error=e.messages[0], ok=False)
    messages.success(request, "Reconciliation complete.")
    return _profile(rec.resident)


@require_POST
@requires(Perm.MANAGE_RESIDENTS)
def discrepancy_resolve(request, discrepancy_id: int):
    item = scoped_get(
        request.user,
        Perm.MANAGE_RESIDENTS,
        Discrepancy.objects.select_related("reconciliation", "reconciliation__resident"),
        home_field="reconciliation__resident__home",
        pk=discrepancy_id,
    )
    form = forms.ResolveForm(request.POST)
    if form.is_valid():
        try:
            services.discrepancy_resolve(
                discrepancy=item, by=request.user, resolution=form.cleaned_data["resolution"]
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            return redirect("reconciliation_detail", reconciliation_id=item.reconciliation_id)
    error = "; ".join(form.non_field_errors()) or "Say how it was resolved."
    return _reconciliation_page(request, item.reconciliation, error=error, ok=False)


@requires(Perm.MANAGE_RESIDENTS)
def review_new(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    form = forms.ReviewForm(request.POST or None, initial={"held_on": resident.home.local_today()})
    if request.method == "POST" and form.is_valid():
        try:
            services.review_record(resident=resident, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Medication review recorded.")
            return _profile(resident)
    ok = request.method != "POST"
    return _page(request, "residents/review_new.html", {"resident": resident, "form": form}, ok=ok)


@require_GET
@requires(Perm.VIEW_RESIDENTS)
def reconciliation_report(request, home):
    rows = selectors.reconciliation_report(home)
    done = [r.hours for r in rows if r.hours is not None]
    context = {
        "home": home,
        "rows": rows,
        "median_hours": sorted(done)[len(done) // 2] if done else None,
        "open_count": sum(1 for r in rows if r.hours is None),
    }
    return render(request, "residents/reconciliation_report.html", context)


# --- Away and back, readmission (R-RES-6, H-16) ------------------------------------------------


@requires(Perm.MANAGE_RESIDENTS)
def resident_away(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    home = resident.home
    form = forms.AwayForm(
        request.POST or None,
        initial={
            "started_at": timezone.localtime(timezone=home.tz).replace(second=0, microsecond=0),
            "expected_return": home.local_today(),
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            absence = services.resident_away_start(
                resident=resident,
                by=request.user,
                kind=data["kind"],
                started_at=forms.home_time(data["started_at"], home),
                expected_return=data["expected_return"],
                note=data["note"],
                idempotency_key=data["idempotency_key"],
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                f"{resident} is away ({absence.get_kind_display().lower()}): their doses are "
                f"recorded {absence.code} and do not escalate until they are back.",
            )
            return _profile(resident)
    ok = request.method != "POST"
    return _page(request, "residents/away.html", {"resident": resident, "form": form}, ok=ok)


@requires(Perm.MANAGE_RESIDENTS)
def resident_return(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    home = resident.home
    absence = Absence.objects.filter(resident=resident, returned_at__isnull=True).first()
    form = forms.ReturnForm(
        request.POST or None,
        initial={
            "returned_at": timezone.localtime(timezone=home.tz).replace(second=0, microsecond=0)
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if absence is None:
                raise DomainError(f"{resident} is not away.", code="not_away")
            absence = services.resident_return(
                absence=absence,
                by=request.user,
                returned_at=forms.home_time(data["returned_at"], home),
                sources=data["sources"],
                notes=data["notes"],
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                f"{resident} is back. Their medicines are held until a senior confirms each "
                "line against the discharge letter.",
            )
            return redirect("reconciliation_detail", reconciliation_id=absence.reconciliation_id)
    ok = request.method != "POST"
    context = {"resident": resident, "form": form, "absence": absence}
    return _page(request, "residents/return.html", context, ok=ok)


@requires(Perm.MANAGE_RESIDENTS)
def resident_readmit(request, resident_id: int):
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    form = forms.ReadmitForm(
        request.POST or None,
        home=resident.home,
        initial={
            "admitted_on": resident.home.local_today(),
            "unit": resident.unit_id,
            "room": resident.room,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.resident_readmit(resident=resident, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                f"{resident} is readmitted with their history. Their previous medicines are "
                "held until a senior confirms each line.",
            )
            return _profile(resident)
    ok = request.method != "POST"
    return _page(request, "residents/readmit.html", {"resident": resident, "form": form}, ok=ok)
