"""The demo's ordering cycle (R-ORD-1, R-ORD-2, R-RUN-4): Demo Care Home is two weeks into its
28-day cycle, supplied by Hillside Pharmacy; this cycle's order is approved, and its delivery
was booked in with one discrepancy (an item missing) still to follow up.

Every write goes through the services and is guarded by what is already there, so a second
`seed_demo` writes nothing (no new row, no new audit entry). Only lines that are not on the
reorder list receive stock, so the other demos' reorder list keeps its lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from demo.organisation import DemoContext
from demo.pharmacy import PHARMACY
from medications import services
from medications.models import (
    LineStatus,
    MedicineOrder,
    OrderCycle,
    OrderItem,
    OrderStatus,
    Pharmacy,
    PrescriptionLine,
)

PHARMACY_EMAIL = "orders@hillside-pharmacy.example"


def _order(ctx: DemoContext, cycle: OrderCycle) -> MedicineOrder | None:
    home, senior = ctx.home, ctx.users["senior"]
    assert home is not None
    start = cycle.current_start(home.local_today())
    order = MedicineOrder.objects.filter(home=home, cycle_start=start).first()
    if order is None:
        order, _ = services.order_prepare(home=home, cycle_start=start, by=senior, now=ctx.now)
    if order.status == OrderStatus.DRAFT:
        if not OrderItem.objects.filter(order=order).exists():
            line = (
                PrescriptionLine.objects.filter(home=home, status=LineStatus.ACTIVE, is_prn=False)
                .order_by("pk")
                .first()
            )
            if line is None:
                return None
            services.order_item_add(
                order=order, line=line, by=senior, quantity=Decimal(28), reason="Top-up"
            )
        order = services.order_approve(order=order, by=senior)
    return order


def _delivery(ctx: DemoContext, order: MedicineOrder) -> None:
    """Booked in against the order: what is not on the reorder list arrives; one item is
    missing (the discrepancy to follow up)."""
    if order.deliveries.exists():
        return
    home, senior = ctx.home, ctx.users["senior"]
    assert home is not None
    low = {f.line.pk for f in services.stock_reorder_list(home=home)}
    items = list(order.items.select_related("line__medicine", "resident", "medicine"))
    arriving = [
        i
        for i in items
        if i.line_id not in low and not i.line.medicine.cd_register and i.line.is_live
    ][:3]
    missing = next((i for i in items if i not in arriving), items[0])
    services.delivery_book(
        order=order,
        by=senior,
        lines=[
            services.DeliveredLine(
                item=i,
                quantity=i.quantity,
                batch=f"HP{i.pk:05d}",
                expiry=home.local_today() + dt.timedelta(days=540),
            )
            for i in arriving
            if i is not missing
        ],
        problems=[
            services.ProblemInput(
                kind="missing",
                description=f"{missing.medicine.name} for {missing.resident.full_name} was not "
                "in the delivery; Hillside Pharmacy to send it.",
                item=missing,
            )
        ],
        received_at=ctx.now,
    )


def seed(ctx: DemoContext) -> None:
    home, manager = ctx.home, ctx.users.get("manager")
    if home is None or manager is None or "senior" not in ctx.users:
        return
    pharmacy = Pharmacy.objects.filter(name=PHARMACY).first()
    if pharmacy is not None and not pharmacy.email:
        pharmacy.email = PHARMACY_EMAIL
        pharmacy.save(update_fields=["email"])
    cycle = OrderCycle.objects.filter(home=home).first()
    if cycle is None:
        cycle = services.order_cycle_set(
            home=home,
            by=manager,
            start_date=home.local_today() - dt.timedelta(days=14),
            lead_days=7,
            pharmacy=pharmacy,
        )
    order = _order(ctx, cycle)
    if order is None:
        return
    _delivery(ctx, order)
    ctx.notes.append(
        f"Medicines order {order.number} is approved; its delivery has one discrepancy to "
        "follow up (Stock > Medicines orders)."
    )
