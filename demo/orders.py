"""The demo's ordering cycle (R-ORD-1, R-ORD-2, R-RUN-4): Demo Care Home is half way through a
28-day cycle; the order for this cycle was prepared on its order date, approved by the senior
and a delivery booked in against it with one discrepancy (an item short) still to follow up.
The next order is prepared by the daily job on the order date shown on Stock → Medicines
orders. Safe to run twice: the order is one per home and cycle, the delivery is made once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from demo.organisation import DemoContext
from demo.pharmacy import PHARMACY
from medications import services as rx
from medications.models import Delivery, MedicationOrder, OrderStatus, Pharmacy

ORDER_EMAIL = "orders@hillside-pharmacy.example"


def seed(ctx: DemoContext) -> None:
    home, manager, senior = ctx.home, ctx.users["manager"], ctx.users["senior"]
    today = home.local_today()
    start = today - dt.timedelta(days=14)  # mid-cycle
    rx.order_cycle_set(home=home, by=manager, start=start, order_days_before=7)
    order = MedicationOrder.objects.filter(home=home, cycle_start=start).first()
    if order is None:
        # On the order date of this cycle (7 days before it began).
        rx.order_prepare(home=home, now=ctx.now - dt.timedelta(days=21))
        order = MedicationOrder.objects.get(home=home, cycle_start=start)
    items = [i for i in rx_items(order) if not i.line.medicine.cd_register]
    if order.status == OrderStatus.PREPARED:
        if not any(i.quantity > 0 for i in items) and items:
            rx.order_item_set(
                item=items[0], by=senior, quantity=Decimal(28), reason="A month's supply"
            )
        rx.order_approve(order=order, by=senior)
    # Set after approval, so seeding sends no email; approvals from now on are emailed.
    Pharmacy.objects.filter(name=PHARMACY, order_email="").update(order_email=ORDER_EMAIL)
    if Delivery.objects.filter(order=order).exists():
        return
    ordered = [
        i
        for i in rx_items(order)
        if i.quantity > 0 and not i.line.medicine.cd_register and i.line.status == "active"
    ]
    if not ordered:
        return
    lines = []
    expiry = today + dt.timedelta(days=400)
    for n, item in enumerate(ordered):
        if n == 0 and item.quantity > 1:
            short = Decimal(min(7, int(item.quantity) - 1))
            lines.append(
                rx.DeliveryLine(
                    item,
                    item.quantity - short,
                    batch=f"HP{item.pk:05d}",
                    expiry=expiry,
                    discrepancy=rx.ReportedDiscrepancy(
                        kind="short", quantity=short, description="Pharmacy to send the rest"
                    ),
                )
            )
        else:
            lines.append(
                rx.DeliveryLine(item, item.quantity, batch=f"HP{item.pk:05d}", expiry=expiry)
            )
    rx.delivery_book(order=order, by=senior, lines=lines)


def rx_items(order: MedicationOrder):
    return list(order.items.select_related("line__medicine", "line__resident").order_by("pk"))
