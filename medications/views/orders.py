"""The ordering cycle and goods in (R-ORD-1, R-ORD-2): thin views over
medications.services.orders. Objects are fetched scoped to the user's homes before any input is
read (an outsider gets 404); writes are POST only; bad input is a 400 with the message and writes
nothing."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from emar import permissions
from emar.permissions import Perm, requires, scoped_get
from emar.services import DomainError

from .. import services
from ..forms.orders import (
    ApproveForm,
    CycleForm,
    FollowUpForm,
    GoodsInForm,
    ItemAddForm,
    ItemChangeForm,
    PrepareForm,
)
from ..models import (
    DeliveryDiscrepancy,
    MedicineOrder,
    OrderCycle,
    OrderItem,
    OrderStatus,
)
from ..rendering import order_pdf


def _order(request, perm: Perm, order_id: int) -> MedicineOrder:
    return scoped_get(
        request.user,
        perm,
        MedicineOrder.objects.select_related("home", "pharmacy", "approved_by", "prepared_by"),
        pk=order_id,
    )


def _cycle_summary(home) -> dict:
    cycle = OrderCycle.objects.filter(home=home).select_related("pharmacy").first()
    if cycle is None:
        return {"cycle": None}
    today = home.local_today()
    if today < cycle.start_date:
        return {"cycle": cycle, "next_start": cycle.start_date}
    next_start = cycle.next_start(today)
    return {
        "cycle": cycle,
        "current_start": cycle.current_start(today),
        "next_start": next_start,
        "order_date": cycle.order_date(next_start),
    }


def _with_follow_up_forms(discrepancies) -> list[DeliveryDiscrepancy]:
    rows = list(discrepancies)
    for d in rows:
        d.follow_up_form = FollowUpForm(auto_id=f"id_followup{d.pk}_%s")
    return rows


def _orders_page(request, home, *, status: int = 200, prepare_form=None):
    orders = MedicineOrder.objects.filter(home=home).select_related("approved_by", "pharmacy")
    return render(
        request,
        "medications/orders/list.html",
        {
            "home": home,
            "orders": orders[:24],
            "prepare_form": prepare_form or PrepareForm(),
            "discrepancies": _with_follow_up_forms(services.delivery_discrepancies_open(home)[:50]),
            "can_manage": permissions.has_perm(request.user, Perm.MANAGE_STOCK, home),
            "can_configure": permissions.has_perm(request.user, Perm.CONFIGURE_HOME, home),
            **_cycle_summary(home),
        },
        status=status,
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def orders(request, home):
    return _orders_page(request, home)


@require_POST
@requires(Perm.MANAGE_STOCK)
def order_prepare(request, home):
    form = PrepareForm(request.POST)
    if not form.is_valid():
        return _orders_page(request, home, status=400, prepare_form=form)
    summary = _cycle_summary(home)
    if summary["cycle"] is None:
        form.add_error(None, "Set the home's ordering cycle first.")
        return _orders_page(request, home, status=400, prepare_form=form)
    try:
        order, created = services.order_prepare(
            home=home, cycle_start=summary["next_start"], by=request.user
        )
    except DomainError as e:
        form.add_error(None, e)
        return _orders_page(request, home, status=400, prepare_form=form)
    if created:
        messages.success(request, f"Order {order.number} prepared: review it and approve it.")
    else:
        messages.info(request, f"Order {order.number} was already prepared for that cycle.")
    return redirect("medications:order", order.pk)


@require_http_methods(["GET", "HEAD", "POST"])
@requires(Perm.CONFIGURE_HOME)
def order_cycle(request, home):
    cycle = OrderCycle.objects.filter(home=home).first()
    initial = (
        {"start_date": cycle.start_date, "lead_days": cycle.lead_days, "pharmacy": cycle.pharmacy}
        if cycle
        else {"start_date": home.local_today(), "lead_days": 7}
    )
    status = 200
    if request.method == "POST":
        form = CycleForm(request.POST, home=home)
        if form.is_valid():
            try:
                services.order_cycle_set(home=home, by=request.user, **form.cleaned_data)
            except DomainError as e:
                form.add_error(None, e)
            else:
                messages.success(request, "Ordering cycle saved.")
                return redirect("medications:orders", home.pk)
        status = 400
    else:
        form = CycleForm(initial=initial, home=home)
    return render(
        request,
        "medications/orders/cycle.html",
        {"home": home, "form": form, **_cycle_summary(home)},
        status=status,
    )


@require_safe
@requires(Perm.VIEW_STOCK)
def order_chase(request, home):
    return render(
        request,
        "medications/orders/chase.html",
        {"home": home, "rows": services.order_outstanding(home=home)},
    )


def _order_page(request, order: MedicineOrder, *, status: int = 200, **forms):
    home = order.home
    can_manage = permissions.has_perm(request.user, Perm.MANAGE_STOCK, home)
    items = list(
        OrderItem.objects.filter(order=order)
        .select_related("resident", "medicine", "line", "changed_by", "added_by")
        .order_by("resident__full_name", "medicine__name", "pk")
    )
    failed_change = forms.get("change_form")
    for item in items:
        if failed_change is not None and failed_change[0] == item.pk:
            item.change_form = failed_change[1]
        else:
            item.change_form = ItemChangeForm(
                initial={"quantity": item.quantity.normalize()},
                auto_id=f"id_item{item.pk}_%s",
            )
    outstanding = {o.item.pk: o for o in services.order_outstanding(order=order)}
    for item in items:
        item.still_due = outstanding.get(item.pk)
    return render(
        request,
        "medications/orders/order.html",
        {
            "home": home,
            "order": order,
            "items": items,
            "can_manage": can_manage,
            "draft": order.status == OrderStatus.DRAFT,
            "add_form": forms.get("add_form") or ItemAddForm(order=order),
            "approve_form": forms.get("approve_form") or ApproveForm(),
            "deliveries": order.deliveries.select_related("by", "witness").prefetch_related(
                "items__order_item__medicine", "discrepancies__follow_ups"
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
def order_item_change(request, order_item_id: int):
    item = scoped_get(
        request.user,
        Perm.MANAGE_STOCK,
        OrderItem.objects.select_related("order", "order__home"),
        home_field="order__home",
        pk=order_item_id,
    )
    form = ItemChangeForm(request.POST, auto_id=f"id_item{item.pk}_%s")
    if form.is_valid():
        try:
            services.order_item_change(item=item, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Quantity changed.")
            return redirect("medications:order", item.order_id)
    return _order_page(request, item.order, status=400, change_form=(item.pk, form))


@require_POST
@requires(Perm.MANAGE_STOCK)
def order_item_add(request, order_id: int):
    order = _order(request, Perm.MANAGE_STOCK, order_id)
    form = ItemAddForm(request.POST, order=order)
    if form.is_valid():
        try:
            services.order_item_add(order=order, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Item added to the order.")
            return redirect("medications:order", order.pk)
    return _order_page(request, order, status=400, add_form=form)


@require_POST
@requires(Perm.MANAGE_STOCK)
def order_approve(request, order_id: int):
    order = _order(request, Perm.MANAGE_STOCK, order_id)
    form = ApproveForm(request.POST)
    if form.is_valid():
        try:
            services.order_approve(order=order, by=request.user)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request, f"Order {order.number} approved: it is being emailed to the pharmacy."
            )
            return redirect("medications:order", order.pk)
    return _order_page(request, order, status=400, approve_form=form)


@require_safe
@requires(Perm.VIEW_STOCK)
def order_pdf_download(request, order_id: int):
    order = _order(request, Perm.VIEW_STOCK, order_id)
    response = HttpResponse(order_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="order-{order.number}.pdf"'
    return response


def _goods_in_page(request, order, form, *, status: int = 200):
    return render(
        request,
        "medications/orders/goods_in.html",
        {"home": order.home, "order": order, "form": form, "rows": form.rows()},
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@requires(Perm.MANAGE_STOCK)
def goods_in(request, order_id: int):
    order = _order(request, Perm.MANAGE_STOCK, order_id)
    items = services.order_outstanding(order=order)
    if request.method != "POST":
        return _goods_in_page(request, order, GoodsInForm(home=order.home, items=items))
    form = GoodsInForm(request.POST, home=order.home, items=items)
    if not form.is_valid():
        return _goods_in_page(request, order, form, status=400)
    witness = form.clean_witness(request)
    if form.errors:
        return _goods_in_page(request, order, form, status=400)
    d = form.cleaned_data
    lines, problems = [], []
    for row in items:
        pk = row.item.pk
        if d.get(f"q_{pk}"):
            lines.append(
                services.DeliveredLine(
                    item=row.item,
                    quantity=d[f"q_{pk}"],
                    batch=d.get(f"batch_{pk}", ""),
                    expiry=d.get(f"expiry_{pk}"),
                    scan=d.get(f"scan_{pk}", ""),
                )
            )
        if d.get(f"problem_{pk}"):
            problems.append(
                services.ProblemInput(
                    kind=d[f"problem_{pk}"], description=d[f"problem_note_{pk}"], item=row.item
                )
            )
    if d.get("extra_kind"):
        problems.append(
            services.ProblemInput(kind=d["extra_kind"], description=d["extra_description"])
        )
    try:
        services.delivery_book(
            order=order,
            by=request.user,
            lines=lines,
            problems=problems,
            witness=witness,
            received_at=form.at(),
            note=d.get("note", ""),
            idempotency_key=d.get("idempotency_key"),
        )
    except DomainError as e:
        form.add_error(None, e)
        return _goods_in_page(request, order, form, status=400)
    messages.success(request, "Delivery booked in.")
    return redirect(reverse("medications:order", args=[order.pk]))


@require_POST
@requires(Perm.MANAGE_STOCK)
def discrepancy_follow_up(request, delivery_discrepancy_id: int):
    discrepancy = scoped_get(
        request.user,
        Perm.MANAGE_STOCK,
        DeliveryDiscrepancy.objects.select_related("home", "delivery"),
        pk=delivery_discrepancy_id,
    )
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            services.discrepancy_follow_up(
                discrepancy=discrepancy, by=request.user, **form.cleaned_data
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Follow-up recorded.")
            return redirect("medications:orders", discrepancy.home_id)
    return render(
        request,
        "medications/orders/follow_up.html",
        {"home": discrepancy.home, "discrepancy": discrepancy, "form": form},
        status=400,
    )
