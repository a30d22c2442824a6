"""Stock, the CD register and medicine storage (R-STK-1..6, R-CD-1..3): thin views over
medications.services.stock. Objects are fetched scoped to the user's homes before any input is
read, so an outsider gets 404; writes are POST only; bad input is a 400 with the form's errors
and writes nothing."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from emar import permissions
from emar.pdf import render_pdf
from emar.periods import PeriodError, month_check
from emar.permissions import Perm, requires, scoped_get
from emar.services import DomainError
from residents.models import Resident

from .. import services
from ..forms.stock import (
    CheckForm,
    CorrectForm,
    DisposeForm,
    HomelyReceiveForm,
    LocationForm,
    ReceiveForm,
    RelinkForm,
    TemperatureForm,
    TransferForm,
)
from ..models import (
    CdSchedule,
    HomelyRemedy,
    HomelyRemedyMovement,
    Medicine,
    PrescriptionLine,
    StockDiscrepancy,
    StockMovement,
    StorageLocation,
)


def _line(request, perm: Perm, line_id: int) -> PrescriptionLine:
    return scoped_get(
        request.user,
        perm,
        PrescriptionLine.objects.select_related("medicine", "resident", "resident__unit", "home"),
        pk=line_id,
    )


def _correct_form(line: PrescriptionLine, movement_id: int, data=None) -> CorrectForm:
    """The correcting-entry form of one ledger row (R-CD-2); a CD correction is witnessed."""
    form = CorrectForm(data, auto_id=f"id_correct{movement_id}_%s")
    if not line.medicine.cd_register:
        form.hide("witness_username", "witness_password")
    return form


def _line_page(
    request,
    line: PrescriptionLine,
    *,
    status: int = 200,
    correct: tuple[int, CorrectForm] | None = None,
    **forms,
):
    can_manage = permissions.has_perm(request.user, Perm.MANAGE_STOCK, line.home)
    movements = list(
        StockMovement.objects.filter(line=line)
        .select_related("by", "witness", "corrects")
        .order_by("-seq")
    )
    if can_manage:
        for m in movements:
            if correct is not None and correct[0] == m.pk:
                m.correct_form, m.correct_open = correct[1], True
            else:
                m.correct_form, m.correct_open = _correct_form(line, m.pk), False
    context = {
        "line": line,
        "resident": line.resident,
        "home": line.home,
        "movements": movements,
        "level": services.stock_levels(line_ids=[line.pk], today=line.home.local_today())[line.pk],
        "discrepancies": StockDiscrepancy.objects.filter(line=line).select_related("raised_by"),
        "can_manage": can_manage,
        "receive_form": forms.get("receive_form") or ReceiveForm(),
        "dispose_form": forms.get("dispose_form") or DisposeForm(),
        "check_form": forms.get("check_form") or CheckForm(),
        "transfer_form": forms.get("transfer_form") or TransferForm(line=line),
        "relink_form": forms.get("relink_form"),
        "open_form": next(iter(forms), ""),
    }
    return render(request, "medications/stock/line.html", context, status=status)


def _run(form, request, call) -> int:
    """Validate, confirm the witness, call the service; the status for the page."""
    if not form.is_valid():
        return 400
    witness = form.clean_witness(request)
    if form.errors:
        return 400
    try:
        call(form.cleaned_data, witness)
    except DomainError as e:
        form.add_error(None, e)
        return 422
    return 200


@require_safe
@requires(Perm.VIEW_STOCK)
def stock_overview(request, home):
    forecasts = services.stock_forecast(home=home)
    open_discrepancies = (
        StockDiscrepancy.objects.filter(home=home, resolved_at__isnull=True)
        .select_related("line", "line__medicine", "resident", "raised_by")
        .order_by("-raised_at")[:50]
    )
    return render(
        request,
        "medications/stock/overview.html",
        {
            "home": home,
            "forecasts": forecasts,
            "discrepancies": open_discrepancies,
            "low_days": services.stock.LOW_DAYS,
        },
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def stock_reorder(request, home):
    raw = request.GET.get("threshold", str(services.stock.LOW_DAYS))
    if not raw.isdigit() or not (1 <= int(raw) <= 28):
        return HttpResponseBadRequest("The threshold is a number of days from 1 to 28.")
    threshold = int(raw)
    today = home.local_today()
    return render(
        request,
        "medications/stock/reorder.html",
        {
            "home": home,
            "threshold": threshold,
            "rows": services.stock_reorder_list(home=home, threshold=threshold),
            "cycle_start": today,
            "cycle_end": today + dt.timedelta(days=services.stock.CYCLE_DAYS - 1),
        },
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def stock_line(request, line_id: int):
    return _line_page(request, _line(request, Perm.VIEW_STOCK, line_id))


def _done(request, line: PrescriptionLine, message: str):
    messages.success(request, message)
    return redirect(reverse("medications:stock_line", args=[line.pk]))


def _receive(data: dict):
    """With a scanned pack, the receipt also links the barcode (R-SCAN-1)."""
    return services.stock_receive_scanned if data["scan"].strip() else services.stock_receive


@require_POST
@requires(Perm.MANAGE_STOCK)
def stock_receive(request, line_id: int):
    line = _line(request, Perm.MANAGE_STOCK, line_id)
    form = ReceiveForm(request.POST)
    status = _run(
        form,
        request,
        lambda d, witness: _receive(d)(
            line=line,
            by=request.user,
            quantity=d["quantity"],
            pharmacy=d["pharmacy"],
            at=form.at(line.home),
            batch=d["batch"],
            expiry=d["expiry"],
            witness=witness,
            carried_forward=d["carried_forward"],
            note=d["note"],
            idempotency_key=d["idempotency_key"],
            **({"code": d["scan"]} if d["scan"].strip() else {}),
        ),
    )
    if status == 200:
        return _done(request, line, "Stock booked in.")
    relink = None
    if form.has_error(NON_FIELD_ERRORS, "scan_wrong_product"):  # offer to correct the link
        relink = RelinkForm(
            initial={"gtin": services.scan_parse(code=form.cleaned_data["scan"]).gtin}
        )
    return _line_page(request, line, status=status, receive_form=form, relink_form=relink)


@require_POST
@requires(Perm.MANAGE_STOCK)
def barcode_relink(request, line_id: int):
    """R-SCAN-1: the pack is this line's product; the barcode's earlier link was wrong."""
    line = _line(request, Perm.MANAGE_STOCK, line_id)
    form = RelinkForm(request.POST)
    if form.is_valid():
        try:
            services.barcode_relink(
                gtin=form.cleaned_data["gtin"],
                product=line.medicine,
                by=request.user,
                home=line.home,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            return _done(
                request, line, f"The barcode is now linked to {line.medicine.name}: scan it again."
            )
    return _line_page(request, line, status=400, receive_form=ReceiveForm(), relink_form=form)


@require_POST
@requires(Perm.MANAGE_STOCK)
def stock_dispose(request, line_id: int):
    line = _line(request, Perm.MANAGE_STOCK, line_id)
    form = DisposeForm(request.POST)
    status = _run(
        form,
        request,
        lambda d, witness: services.stock_dispose(
            line=line,
            by=request.user,
            kind=d["kind"],
            quantity=d["quantity"],
            reason=d["reason"],
            destination=d["destination"],
            receipt_ref=d["receipt_ref"],
            witness=witness,
            at=form.at(line.home),
            idempotency_key=d["idempotency_key"],
        ),
    )
    if status == 200:
        return _done(request, line, "Return / disposal recorded.")
    return _line_page(request, line, status=status, dispose_form=form)


@require_POST
@requires(Perm.MANAGE_STOCK)
def stock_transfer(request, line_id: int):
    """The supply follows the medicine (R-STK-8): the whole balance to the new line."""
    line = _line(request, Perm.MANAGE_STOCK, line_id)
    form = TransferForm(request.POST, line=line)
    status = _run(
        form,
        request,
        lambda d, witness: services.stock_transfer(
            from_line=line,
            to_line=d["to_line"],
            by=request.user,
            witness=witness,
            idempotency_key=d["idempotency_key"],
        ),
    )
    if status == 200:
        return _done(request, line, "The supply moved to the new line.")
    return _line_page(request, line, status=status, transfer_form=form)


@require_POST
@requires(Perm.MANAGE_STOCK)
def stock_check(request, line_id: int):
    line = _line(request, Perm.MANAGE_STOCK, line_id)
    form = CheckForm(request.POST)
    result = {}

    def call(d, witness):
        result["check"] = services.stock_check(
            line=line,
            by=request.user,
            counted=d["counted"],
            witness=witness,
            note=d["note"],
            theft_suspected=d["theft_suspected"],
            idempotency_key=d["idempotency_key"],
        )

    status = _run(form, request, call)
    if status == 200:
        check = result["check"]
        if check.difference:
            messages.warning(
                request,
                "The count does not match the ledger: a discrepancy is recorded and the manager "
                "has been told.",
            )
        return _done(request, line, "Stock check recorded.")
    return _line_page(request, line, status=status, check_form=form)


@require_POST
@requires(Perm.MANAGE_STOCK)
def stock_correct(request, movement_id: int):
    movement = scoped_get(
        request.user,
        Perm.MANAGE_STOCK,
        StockMovement.objects.select_related("line", "line__medicine", "line__home"),
        pk=movement_id,
    )
    form = _correct_form(movement.line, movement.pk, request.POST)
    status = _run(
        form,
        request,
        lambda d, witness: services.stock_correct(
            movement=movement,
            by=request.user,
            change=d["change"],
            reason=d["reason"],
            witness=witness,
            idempotency_key=d["idempotency_key"],
        ),
    )
    if status == 200:
        return _done(request, movement.line, "Correcting entry recorded; the original stays.")
    return _line_page(request, movement.line, status=status, correct=(movement.pk, form))


# --- CD register (R-CD-1, R-CD-2) ----------------------------------------------------------------


@require_safe
@requires(Perm.VIEW_STOCK)
def cd_register_index(request, home):
    return render(
        request,
        "medications/stock/cd_index.html",
        {"home": home, "pages": services.cd_register_pages(home=home)},
    )


def _register(request, resident_id: int, medicine_id: int) -> dict:
    resident = scoped_get(
        request.user,
        Perm.VIEW_STOCK,
        Resident.objects.select_related("home", "unit"),
        pk=resident_id,
    )
    medicine = get_object_or_404(Medicine, pk=medicine_id, cd_register=True)
    return {
        "home": resident.home,
        "resident": resident,
        "medicine": medicine,
        "schedule": CdSchedule(medicine.cd_schedule).label
        if medicine.cd_schedule in CdSchedule.values
        else medicine.cd_schedule,
        "entries": services.cd_register_entries(resident=resident, medicine=medicine),
        "printed_at": timezone.now(),
    }


@require_safe
@requires(Perm.VIEW_STOCK)
def cd_register(request, resident_id: int, medicine_id: int):
    return render(
        request, "medications/stock/cd_register.html", _register(request, resident_id, medicine_id)
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def cd_register_pdf(request, resident_id: int, medicine_id: int):
    context = _register(request, resident_id, medicine_id)
    pdf = render_pdf("medications/stock/cd_register_print.html", context)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"cd-register-{context['resident'].pk}-{context['medicine'].pk}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


# --- temperatures (R-STK-6) ----------------------------------------------------------------------


def _month(raw: str | None, today: dt.date) -> tuple[int, int]:
    if not raw:
        return today.year, today.month
    year, month = raw.split("-")
    value = dt.date(int(year), int(month), 1)
    try:
        month_check(month=value, today=today)
    except PeriodError as e:
        raise ValueError(e.message) from None
    return value.year, value.month


def _temperatures_page(request, home, *, status: int = 200, form=None, location_form=None):
    locations = list(StorageLocation.objects.filter(home=home, active=True))
    try:
        year, month = _month(request.GET.get("month"), home.local_today())
        raw_location = request.GET.get("location")
        location = (
            next(loc for loc in locations if loc.pk == int(raw_location))
            if raw_location
            else (locations[0] if locations else None)
        )
    except (ValueError, StopIteration):
        return HttpResponseBadRequest("Unknown fridge/room or month (use YYYY-MM).")
    first = dt.date(year, month, 1)
    return render(
        request,
        "medications/stock/temperatures.html",
        {
            "home": home,
            "locations": locations,
            "location": location,
            "month": first,
            "previous": (first - dt.timedelta(days=1)).replace(day=1),
            "next": (first + dt.timedelta(days=32)).replace(day=1),
            "days": services.temperature_month(location=location, year=year, month=month)
            if location
            else [],
            "can_manage": permissions.has_perm(request.user, Perm.MANAGE_STOCK, home),
            "form": form
            or TemperatureForm(home=home, initial={"location": location.pk if location else None}),
            "location_form": location_form or LocationForm(),
        },
        status=status,
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def temperatures(request, home):
    return _temperatures_page(request, home)


@require_POST
@requires(Perm.MANAGE_STOCK)
def temperature_record(request, home):
    form = TemperatureForm(request.POST, home=home)
    if not form.is_valid():
        return _temperatures_page(request, home, status=400, form=form)
    d = form.cleaned_data
    try:
        services.temperature_record(
            location=d["location"],
            by=request.user,
            current=d["current"],
            minimum=d["minimum"],
            maximum=d["maximum"],
            reset_confirmed=d["reset_confirmed"],
            action_taken=d["action_taken"],
            idempotency_key=d["idempotency_key"],
        )
    except DomainError as e:
        form.add_error(None, e)
        return _temperatures_page(request, home, status=422, form=form)
    messages.success(request, f"Reading saved for {d['location']}.")
    return redirect(
        reverse("medications:temperatures", args=[home.pk]) + f"?location={d['location'].pk}"
    )


@require_POST
@requires(Perm.MANAGE_STOCK)
def storage_location_add(request, home):
    form = LocationForm(request.POST)
    if not form.is_valid():
        return _temperatures_page(request, home, status=400, location_form=form)
    try:
        location = services.storage_location_create(home=home, by=request.user, **form.cleaned_data)
    except DomainError as e:
        form.add_error(None, e)
        return _temperatures_page(request, home, status=422, location_form=form)
    return redirect(
        reverse("medications:temperatures", args=[home.pk]) + f"?location={location.pk}"
    )


def _homely_page(request, home, *, status: int = 200, form=None):
    remedies = (
        HomelyRemedy.objects.filter(home=home)
        .select_related("medicine", "stock")
        .order_by("medicine__name")
    )
    movements = (
        HomelyRemedyMovement.objects.filter(home=home)
        .select_related("remedy__medicine", "by")
        .order_by("-recorded_at", "-pk")[:50]
    )
    return render(
        request,
        "medications/stock/homely.html",
        {
            "home": home,
            "remedies": remedies,
            "movements": movements,
            "can_manage": permissions.has_perm(request.user, Perm.MANAGE_STOCK, home),
            "form": form or HomelyReceiveForm(home=home),
        },
        status=status,
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def homely_stock(request, home):
    """The home's own supply of homely remedies, with balances (R-MAR-11)."""
    return _homely_page(request, home)


@require_POST
@requires(Perm.MANAGE_STOCK)
def homely_stock_receive(request, home):
    form = HomelyReceiveForm(request.POST, home=home)
    if not form.is_valid():
        return _homely_page(request, home, status=400, form=form)
    d = form.cleaned_data
    try:
        services.homely_stock_receive(
            remedy=d["remedy"],
            by=request.user,
            quantity=d["quantity"],
            note=d["note"],
            idempotency_key=d["idempotency_key"],
        )
    except DomainError as e:
        form.add_error(None, e)
        return _homely_page(request, home, status=422, form=form)
    messages.success(request, f"{d['remedy'].medicine.name} booked in.")
    return redirect(reverse("medications:homely_stock", args=[home.pk]))
