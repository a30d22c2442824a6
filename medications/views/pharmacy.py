"""The senior's check of the lines the supplying pharmacy sent (R-RX-12): a home's list of
residents with lines waiting, and per resident the pharmacy's lines beside the current ones,
each checked and accepted or rejected. Every rule is in `medications.services.imports`."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Min
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from emar.permissions import Perm, requires, scoped_get
from emar.services import DomainError
from residents.models import Resident

from .. import services
from ..forms.pharmacy import ImportAcceptForm, ImportRejectForm
from ..models import PharmacyImport


@require_GET
@requires(Perm.CHECK_PRESCRIPTION)
def pharmacy_imports(request, home):
    residents = (
        services.pharmacy_imports_waiting(home)
        .values("line__resident", "line__resident__full_name", "line__resident__room")
        .annotate(lines=Count("pk"), first=Min("received_at"))
        .order_by("first")
    )
    return render(
        request, "medications/pharmacy_imports.html", {"home": home, "residents": residents}
    )


def _resident(request, resident_id: int) -> Resident:
    return scoped_get(
        request.user,
        Perm.CHECK_PRESCRIPTION,
        Resident.objects.select_related("home", "unit"),
        pk=resident_id,
    )


def _check_page(request, resident, *, status: int = 200, error: str = ""):
    rows = services.pharmacy_import_review(resident)
    for row in rows:  # each form its own key: one accept or reject per tap
        row.accept_form, row.reject_form = ImportAcceptForm(), ImportRejectForm()
    return render(
        request,
        "medications/pharmacy_import_check.html",
        {
            "resident": resident,
            "home": resident.home,
            "rows": rows,
            "error": error,
        },
        status=status,
    )


@require_GET
@requires(Perm.CHECK_PRESCRIPTION)
def pharmacy_import_check(request, resident_id: int):
    return _check_page(request, _resident(request, resident_id))


def _item(request, import_id: int) -> PharmacyImport:
    return scoped_get(
        request.user,
        Perm.CHECK_PRESCRIPTION,
        PharmacyImport.objects.select_related("line", "line__resident", "line__medicine"),
        home_field="line__home",
        pk=import_id,
    )


@require_POST
@requires(Perm.CHECK_PRESCRIPTION)
def pharmacy_import_accept(request, import_id: int):
    item = _item(request, import_id)
    resident = item.line.resident
    form = ImportAcceptForm(request.POST)
    if not form.is_valid():
        return _check_page(
            request,
            resident,
            status=400,
            error="Tick the box to confirm you checked the line against the pharmacy's data.",
        )
    try:
        services.pharmacy_import_accept(
            item=item,
            by=request.user,
            allergy_override_reason=form.cleaned_data["allergy_override_reason"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except DomainError as e:
        return _check_page(request, resident, status=422, error=e.message)
    messages.success(request, f"{item.line.medicine.name}: checked and accepted.")
    return redirect("medications:pharmacy_import_check", resident_id=resident.pk)


@require_POST
@requires(Perm.CHECK_PRESCRIPTION)
def pharmacy_import_reject(request, import_id: int):
    item = _item(request, import_id)
    resident = item.line.resident
    form = ImportRejectForm(request.POST)
    if not form.is_valid():
        return _check_page(
            request, resident, status=400, error="Say why the pharmacy's line is rejected."
        )
    try:
        services.pharmacy_import_reject(
            item=item,
            by=request.user,
            reason=form.cleaned_data["reason"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except DomainError as e:
        return _check_page(request, resident, status=422, error=e.message)
    messages.success(request, f"{item.line.medicine.name}: rejected; it will not go on rounds.")
    return redirect("medications:pharmacy_import_check", resident_id=resident.pk)
