"""The ordering cycle and goods in (R-ORD-1, R-ORD-2): thin views over
medications.services.orders. Objects are fetched scoped to the user's homes before any input is
read (outsiders get 404); writes are POST only; bad input is a 400 with the form's errors, a
refused rule a 422 with its message, and nothing is written either way."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from emar import permissions
from emar.permissions import Perm, requires, scoped_get
from emar.services import DomainError

from .. import selectors, services
from ..forms.orders import (
    ApproveForm,
    CycleForm,
    DeliveryForm,
    InterimForm,
    ItemForm,
    ResolveForm,
)
from ..models import (
    DeliveryDiscrepancy,
    LineStatus,
    MedicationOrder,
    OrderCycle,
    OrderItem,
    PrescriptionLine,
)
from ..services import DeliveryLine, ReportedDiscrepancy


def _order(request, perm: Perm, order_id: int) -> MedicationOrder:
    return scoped_get(
        request.user,
        perm,
        MedicationOrder.objects.select_related("home", "pharmacy", "approved_by"),
        pk=order_id,
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def orders(request, home):
    """The home's cycle, its orders, the chase list and open delivery discrepancies."""
    return render(
        request,
        "medications/orders/index.html",
        {
            "home": home,
            "cycle": services.order_cycle_of(home),
            "orders": selectors.orders_of(home)[:24],
            "chase": selectors.order_chase_list(home=home),
            "discrepancies": selectors.delivery_discrepancies_open(home=home),
            "resolve_form": ResolveForm(),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.CONFIGURE_HOME)
def order_cycle(request, home):
    current = OrderCycle.objects.filter(home=home).first()
    pharmacy = home.pharmacies.order_by("name").first()
    initial = {
        "start": current.start if current else home.local_today(),
        "order_days_before": current.order_days_before if current else 7,
        "pharmacy": pharmacy,
        "order_email": pharmacy.order_email if pharmacy else "",
    }
    form = CycleForm(request.POST or None, home=home, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.order_cycle_set(
                    home=home,
                    by=request.user,
                    start=d["start"],
                    order_days_before=d["order_days_before"],
                    pharmacy=d["pharmacy"],
                    order_email=d["order_email"],
                )
            except DomainError as e:
                form.add_error(None, e)
                status = 422
            else:
                messages.success(request, "Ordering cycle saved.")
                return redirect(reverse("medications:orders", args=[home.pk]))
    return render(
        request, "medications/orders/cycle.html", {"home": home, "form": form}, status=status
    )


def _order_page(request, order: MedicationOrder, *, status: int = 200, **forms):
    home = order.home
    can_manage = permissions.has_perm(request.user, Perm.MANAGE_STOCK, home)
    on_order = order.items.values("line_id")
    lines = (
        PrescriptionLine.objects.filter(home=home, status=LineStatus.ACTIVE)
        .exclude(pk__in=on_order)
        .select_related("resident", "medicine")
        .order_by("resident__full_name", "medicine__name")
    )
    return render(
        request,
        "medications/orders/order.html",
        {
            "home": home,
            "order": order,
            "items": selectors.order_items(order),
            "can_edit": can_manage and not order.approved,
            "can_manage": can_manage,
            "interim_form": forms.get("interim_form") or InterimForm(lines=lines),
            "approve_form": forms.get("approve_form") or ApproveForm(),
            "item_error": forms.get("item_error"),
            "deliveries": order.deliveries.select_related("by", "witness").prefetch_related(
                "items", "discrepancies"
            ),
        },
        status=status,
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def order_detail(request, order_id: int):
    return _order_page(request, _order(request, Perm.VIEW_STOCK, order_id))


@require_POST
@requires(Perm.MANAGE_STOCK)
def order_item_set(request, order_item_id: int):
    item = scoped_get(
        request.user,
        Perm.MANAGE_STOCK,
        OrderItem.objects.select_related("order", "order__home"),
        home_field="order__home",
        pk=order_item_id,
    )
    form = ItemForm(request.POST)
    if not form.is_valid():
        problems = [f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()]
        return _order_page(request, item.order, status=400, item_error=(item.pk, problems))
    try:
        services.order_item_set(
            item=item,
            by=request.user,
            quantity=form.cleaned_data["quantity"],
            reason=form.cleaned_data["reason"],
        )
    except DomainError as e:
        return _order_page(request, item.order, status=422, item_error=(item.pk, e.messages))
    messages.success(request, f"Quantity of {item.line.medicine.name} saved.")
    return redirect(reverse("medications:order_detail", args=[item.order_id]))


@require_POST
@requires(Perm.MANAGE_STOCK)
def order_item_add(request, order_id: int):
    order = _order(request, Perm.MANAGE_STOCK, order_id)
    lines = PrescriptionLine.objects.filter(home=order.home, status=LineStatus.ACTIVE)
    form = InterimForm(request.POST, lines=lines)
    if not form.is_valid():
        return _order_page(request, order, status=400, interim_form=form)
    try:
        services.order_item_add(order=order, by=request.user, **form.cleaned_data)
    except DomainError as e:
        form.add_error(None, e)
        return _order_page(request, order, status=422, interim_form=form)
    messages.success(request, "Interim item added.")
    return redirect(reverse("medications:order_detail", args=[order.pk]))


@require_POST
@requires(Perm.MANAGE_STOCK)
def order_approve(request, order_id: int):
    order = _order(request, Perm.MANAGE_STOCK, order_id)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _order_page(request, order, status=400, approve_form=form)
    try:
        order = services.order_approve(order=order, by=request.user)
    except DomainError as e:
        form.add_error(None, e)
        return _order_page(request, order, status=422, approve_form=form)
    sent = f" It is emailed to {order.email_to}." if order.email_to else ""
    messages.success(request, f"Order approved.{sent}")
    return redirect(reverse("medications:order_detail", args=[order.pk]))


@require_safe
@requires(Perm.VIEW_STOCK)
def order_pdf(request, order_id: int):
    order = _order(request, Perm.VIEW_STOCK, order_id)
    response = HttpResponse(services.order_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="order-{order.pk}.pdf"'
    return response


@require_safe
@requires(Perm.VIEW_STOCK)
def order_export(request, order_id: int):
    order = _order(request, Perm.VIEW_STOCK, order_id)
    return JsonResponse(services.order_export(order))


def _goods_in_page(request, order, form, *, status: int = 200):
    return render(
        request,
        "medications/orders/goods_in.html",
        {"home": order.home, "order": order, "form": form},
        status=status,
    )


def _outstanding(order: MedicationOrder) -> list[OrderItem]:
    return [i for i in selectors.order_items(order) if i.quantity > 0]


@require_http_methods(["GET", "POST"])
@requires(Perm.MANAGE_STOCK)
def goods_in(request, order_id: int):
    """A whole delivery on one screen, item by item (R-ORD-2)."""
    order = _order(request, Perm.MANAGE_STOCK, order_id)
    form = DeliveryForm(request.POST or None, items=_outstanding(order), home=order.home)
    if request.method == "GET":
        return _goods_in_page(request, order, form)
    if not form.is_valid():
        return _goods_in_page(request, order, form, status=400)
    witness = form.clean_witness(request)
    if form.errors:
        return _goods_in_page(request, order, form, status=400)
    d = form.cleaned_data
    lines = [
        DeliveryLine(
            order_item=item,
            quantity=q,
            batch=batch,
            expiry=expiry,
            discrepancy=ReportedDiscrepancy(kind=kind, quantity=dq, description=note)
            if kind
            else None,
        )
        for item, q, batch, expiry, kind, dq, note in form.entered()
    ]
    extra = (
        [ReportedDiscrepancy(kind="not_ordered", description=d["extra_description"])]
        if d["extra_description"].strip()
        else []
    )
    try:
        services.delivery_book(
            order=order,
            by=request.user,
            lines=lines,
            extra=extra,
            witness=witness,
            note=d["note"],
            idempotency_key=d["idempotency_key"],
        )
    except DomainError as e:
        form.add_error(None, e)
        return _goods_in_page(request, order, form, status=422)
    messages.success(request, "Delivery booked in.")
    return redirect(reverse("medications:order_detail", args=[order.pk]))


@require_POST
@requires(Perm.MANAGE_STOCK)
def delivery_discrepancy_resolve(request, delivery_discrepancy_id: int):
    discrepancy = scoped_get(
        request.user,
        Perm.MANAGE_STOCK,
        DeliveryDiscrepancy.objects.all(),
        pk=delivery_discrepancy_id,
    )
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Say how it was followed up.", status=400, content_type="text/plain")
    try:
        services.delivery_discrepancy_resolve(
            discrepancy=discrepancy, by=request.user, resolution=form.cleaned_data["resolution"]
        )
    except DomainError as e:
        return HttpResponse(" ".join(e.messages), status=422, content_type="text/plain")
    messages.success(request, "Discrepancy followed up.")
    return redirect(reverse("medications:orders", args=[discrepancy.home_id]))
