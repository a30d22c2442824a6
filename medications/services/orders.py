"""The monthly ordering cycle and goods in (R-ORD-1, R-ORD-2).

Preparation reuses the stock forecast (R-STK-4): a regular line's quantity is what its schedule
needs from now to the end of the next cycle, less the balance in stock, in whole units; a PRN
line's is what was given in the last 28 days less the balance; stopped lines are left out. The
order is one per home and cycle by the database's unique rule, so the daily job may run any
number of times. Goods in books each item through `stock_receive` (the same rules, witness and
CD register entry as booking in one line) inside one transaction with the delivery.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from emar import permissions
from emar.models import CareHome, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append, idempotent

from ..models import (
    Delivery,
    DeliveryDiscrepancy,
    DeliveryDiscrepancyKind,
    DeliveryItem,
    LineStatus,
    MedicationOrder,
    MovementKind,
    OrderCycle,
    OrderItem,
    OrderStatus,
    Pharmacy,
    PrescriptionLine,
    StockMovement,
)
from .stock import CYCLE_DAYS, MAX_QUANTITY, stock_forecast, stock_receive

__all__ = [
    "Cycle",
    "DeliveryLine",
    "OrderError",
    "ReportedDiscrepancy",
    "delivery_book",
    "delivery_discrepancy_resolve",
    "order_approve",
    "order_cycle_of",
    "order_cycle_set",
    "order_email_send",
    "order_export",
    "order_item_add",
    "order_item_set",
    "order_pdf",
    "order_prepare",
    "orders_prepare_due",
]

PRN_LOOKBACK_DAYS = 28


class OrderError(DomainError):
    """An ordering or goods-in rule refused the action; `code` is stable."""


@dataclass(frozen=True)
class Cycle:
    start: dt.date  # the current cycle's first day
    next_start: dt.date
    order_date: dt.date  # the order for the next cycle is prepared on or after this day

    @property
    def next_end(self) -> dt.date:
        return self.next_start + dt.timedelta(days=CYCLE_DAYS - 1)


def order_cycle_of(home: CareHome, today: dt.date | None = None) -> Cycle | None:
    """The cycle `today` falls in, the next one and its order date; None without settings."""
    settings = OrderCycle.objects.filter(home=home).first()
    if settings is None:
        return None
    today = today or home.local_today()
    n = (today - settings.start).days // CYCLE_DAYS
    start = settings.start + dt.timedelta(days=n * CYCLE_DAYS)
    next_start = start + dt.timedelta(days=CYCLE_DAYS)
    return Cycle(
        start=start,
        next_start=next_start,
        order_date=next_start - dt.timedelta(days=settings.order_days_before),
    )


def _require(by: User, perm: Perm, home: CareHome, what: str) -> None:
    if not permissions.has_perm(by, perm, home):
        raise OrderError(f"Your role cannot {what} in this home.", code="not_allowed")


def _quantity(value: Decimal | None, *, allow_zero: bool = True) -> Decimal:
    if value is None or value < 0 or (value == 0 and not allow_zero):
        raise OrderError(
            "The quantity must be a number of zero or more."
            if allow_zero
            else "The quantity must be more than zero.",
            code="quantity_not_positive",
        )
    if value >= MAX_QUANTITY:
        raise OrderError("That quantity is too large.", code="quantity_too_large")
    return value


# --- the cycle settings ------------------------------------------------------------------------


@transaction.atomic
def order_cycle_set(
    *,
    home: CareHome,
    by: User,
    start: dt.date,
    order_days_before: int,
    pharmacy: Pharmacy | None = None,
    order_email: str = "",
) -> OrderCycle:
    """A manager sets the home's cycle (R-ORD-1) and where its orders are emailed."""
    _require(by, Perm.CONFIGURE_HOME, home, "set the ordering cycle")
    if not 1 <= order_days_before <= 21:
        raise OrderError(
            "The order is made between 1 and 21 days before the next cycle.", code="days_range"
        )
    cycle = OrderCycle.objects.select_for_update().filter(home=home).first()
    before = {"start": cycle.start, "order_days_before": cycle.order_days_before} if cycle else {}
    if cycle is None:
        cycle = OrderCycle(home=home, start=start, order_days_before=order_days_before)
    cycle.start, cycle.order_days_before = start, order_days_before
    cycle.updated_at, cycle.updated_by = timezone.now(), by
    cycle.save()
    after = {"start": start, "order_days_before": order_days_before}
    if pharmacy is not None:
        if not pharmacy.homes.filter(pk=home.pk).exists():
            raise OrderError("That pharmacy does not supply this home.", code="not_our_pharmacy")
        if pharmacy.order_email != order_email.strip():
            pharmacy.order_email = order_email.strip()
            pharmacy.save(update_fields=["order_email"])
            after["pharmacy_order_email"] = pharmacy.order_email
    audit_append(
        home=home, actor=by, action="order.cycle_set", obj=cycle, before=before, after=after
    )
    return cycle


# --- preparing the order on the order date -----------------------------------------------------


def _prn_used(line_ids: list[int], since: dt.datetime) -> dict[int, Decimal]:
    rows = (
        StockMovement.objects.filter(
            line_id__in=line_ids, kind=MovementKind.ADMINISTERED, at__gte=since
        )
        .values("line_id")
        .annotate(used=Sum("change"))
    )
    return {r["line_id"]: -r["used"] for r in rows}


def _n(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def order_prepare(
    *, home: CareHome, now: dt.datetime | None = None, force: bool = False
) -> MedicationOrder | None:
    """Prepare the order for the home's next cycle once its order date has come (R-ORD-1).

    Returns the new order, or None when it is not the order date yet, the home has no cycle,
    or the order exists already (a re-run, another worker): the unique rule on (home, cycle
    start) decides, inside a savepoint, so a race never leaves two orders or a half order."""
    now = now or timezone.now()
    today = now.astimezone(home.tz).date()
    cycle = order_cycle_of(home, today)
    if cycle is None or (today < cycle.order_date and not force):
        return None
    if MedicationOrder.objects.filter(home=home, cycle_start=cycle.next_start).exists():
        return None
    forecasts = stock_forecast(home=home, now=now, days=(cycle.next_end - today).days + 1)
    forecasts = [f for f in forecasts if f.line.status != LineStatus.STOPPED]
    prn_ids = [f.line.pk for f in forecasts if f.line.is_prn]
    used = _prn_used(prn_ids, now - dt.timedelta(days=PRN_LOOKBACK_DAYS))
    items = []
    for f in forecasts:
        balance = max(f.balance, Decimal(0))
        unit = f.line.get_dose_unit_display()
        if f.line.is_prn:
            recent = used.get(f.line.pk, Decimal(0))
            short = recent - balance
            basis = f"PRN: {_n(recent)} {unit} used in the last 28 days, {_n(balance)} in stock"
        else:
            short = f.need_cycle - balance
            basis = (
                f"{_n(f.need_cycle)} {unit} scheduled to {cycle.next_end:%-d %b %Y}, "
                f"{_n(balance)} in stock"
            )
        quantity = Decimal(math.ceil(short)) if short > 0 else Decimal(0)
        items.append((f.line, quantity, basis))
    try:
        with transaction.atomic():
            order = MedicationOrder.objects.create(
                home=home,
                cycle_start=cycle.next_start,
                cycle_end=cycle.next_end,
                order_date=cycle.order_date,
                prepared_at=now,
                pharmacy=home.pharmacies.order_by("name").first(),
            )
            OrderItem.objects.bulk_create(
                OrderItem(order=order, line=line, proposed=q, quantity=q, basis=basis[:300])
                for line, q, basis in items
            )
            audit_append(
                home=home,
                actor=None,
                action="order.prepared",
                obj=order,
                after={"cycle_start": cycle.next_start, "items": len(items)},
            )
    except IntegrityError:
        return None  # prepared by another run at the same moment
    return order


def orders_prepare_due(now: dt.datetime | None = None) -> int:
    """The daily job: every home whose order date has come gets its order, once."""
    made = 0
    for home in CareHome.objects.filter(order_cycle__isnull=False).order_by("pk"):
        if order_prepare(home=home, now=now) is not None:
            made += 1
    return made


# --- review and approval ------------------------------------------------------------------------


def _locked_order(order: MedicationOrder) -> MedicationOrder:
    return MedicationOrder.objects.select_for_update().get(pk=order.pk)


def _editable(order: MedicationOrder, by: User) -> MedicationOrder:
    _require(by, Perm.MANAGE_STOCK, order.home, "review medicines orders")
    order = _locked_order(order)
    if order.status != OrderStatus.PREPARED:
        raise OrderError(
            "This order is approved and sent: it can no longer be changed.", code="order_approved"
        )
    return order


@transaction.atomic
def order_item_set(*, item: OrderItem, by: User, quantity: Decimal, reason: str) -> OrderItem:
    """A senior changes an item's quantity, saying why (R-ORD-1)."""
    _editable(item.order, by)
    quantity = _quantity(quantity)
    reason = reason.strip()
    item = OrderItem.objects.select_for_update().get(pk=item.pk)
    if quantity == item.quantity:
        return item
    if not reason:
        raise OrderError("Say why the quantity is changed.", code="reason_required")
    before = {"quantity": item.quantity}
    item.quantity, item.reason = quantity, reason
    item.changed_by, item.changed_at = by, timezone.now()
    item.save(update_fields=["quantity", "reason", "changed_by", "changed_at"])
    audit_append(
        home=item.order.home_id,
        actor=by,
        action="order.item_changed",
        obj=item,
        before=before,
        after={"quantity": quantity, "reason": reason},
    )
    return item


@transaction.atomic
def order_item_add(
    *, order: MedicationOrder, by: User, line: PrescriptionLine, quantity: Decimal, reason: str
) -> OrderItem:
    """An interim item: a line the preparation did not include (R-ORD-1)."""
    order = _editable(order, by)
    quantity = _quantity(quantity, allow_zero=False)
    reason = reason.strip()
    if not reason:
        raise OrderError("Say why this item is added.", code="reason_required")
    if line.home_id != order.home_id:
        raise OrderError("That line is not in this home.", code="other_home")
    if line.status != LineStatus.ACTIVE:
        raise OrderError("Only a current, checked line can be ordered.", code="line_not_current")
    if OrderItem.objects.filter(order=order, line=line).exists():
        raise OrderError(
            "This line is on the order already: change its quantity instead.", code="on_order"
        )
    item = OrderItem.objects.create(
        order=order,
        line=line,
        quantity=quantity,
        interim=True,
        reason=reason,
        changed_by=by,
        changed_at=timezone.now(),
    )
    audit_append(
        home=order.home_id,
        actor=by,
        action="order.item_added",
        obj=item,
        after={"line": line.pk, "quantity": quantity, "reason": reason},
    )
    return item


@transaction.atomic
def order_approve(
    *, order: MedicationOrder, by: User, pharmacy: Pharmacy | None = None
) -> MedicationOrder:
    """A senior approves the order; it is emailed to the pharmacy as a PDF once, after commit
    (R-ORD-1). An order with nothing to order cannot be approved."""
    order = _editable(order, by)
    if not order.items.filter(quantity__gt=0).exists():
        raise OrderError(
            "This order has nothing to order: add an item or a quantity first.", code="empty_order"
        )
    pharmacy = pharmacy or order.pharmacy or order.home.pharmacies.order_by("name").first()
    if pharmacy is None:
        raise OrderError(
            "This home has no supplying pharmacy: link one before approving.", code="no_pharmacy"
        )
    if not pharmacy.homes.filter(pk=order.home_id).exists():
        raise OrderError("That pharmacy does not supply this home.", code="not_our_pharmacy")
    order.status = OrderStatus.APPROVED
    order.approved_at, order.approved_by = timezone.now(), by
    order.pharmacy = pharmacy
    order.email_to = pharmacy.order_email
    order.save(update_fields=["status", "approved_at", "approved_by", "pharmacy", "email_to"])
    audit_append(
        home=order.home_id,
        actor=by,
        action="order.approved",
        obj=order,
        after={"pharmacy": pharmacy.name, "email_to": order.email_to},
    )
    if order.email_to:
        from .. import tasks  # tasks import services

        pk = order.pk
        transaction.on_commit(lambda: tasks.order_email.delay(pk))
    return order


# --- the PDF, the email and the export ----------------------------------------------------------


def _items_for_print(order: MedicationOrder) -> list[OrderItem]:
    """The items ordered, each with `directions`: dose, route and when (the pharmacist checks
    the quantity against them)."""
    from ..selectors import current_version

    items = list(
        order.items.filter(quantity__gt=0)
        .select_related("line", "line__medicine", "line__resident")
        .order_by("line__resident__full_name", "line__medicine__name")
    )
    for item in items:
        line = item.line
        version = None if line.is_prn else current_version(line)
        when = "when required" if line.is_prn else (version.describe if version else "")
        directions = f"{line.dose_text} {line.get_route_display().lower()}, {when}"
        item.directions = directions.strip(", ")  # type: ignore[attr-defined]
    return items


def order_pdf(order: MedicationOrder) -> bytes:
    """The order as the pharmacy reads it: one row per resident and medicine."""
    from emar.pdf import render_pdf

    return render_pdf(
        "medications/orders/order_pdf.html",
        {"order": order, "home": order.home, "items": _items_for_print(order)},
    )


@transaction.atomic
def order_email_send(*, order_id: int) -> bool:
    """Email the approved order's PDF to the pharmacy unless it has been sent already; the row
    lock keeps two workers from sending it twice (the notification email's pattern)."""
    order = (
        MedicationOrder.objects.select_for_update(of=("self",))
        .select_related("home", "pharmacy", "approved_by")
        .filter(pk=order_id, status=OrderStatus.APPROVED, emailed_at__isnull=True)
        .first()
    )
    if order is None or not order.email_to:
        return False
    message = EmailMessage(
        subject=f"Medicines order: {order.home.name}, cycle from {order.cycle_start:%-d %b %Y}",
        body=(
            f"Please find attached the medicines order of {order.home.name} for the cycle "
            f"{order.cycle_start:%-d %b %Y} to {order.cycle_end:%-d %b %Y}, approved by "
            f"{order.approved_by}."
        ),
        to=[order.email_to],
    )
    message.attach(f"order-{order.pk}.pdf", order_pdf(order), "application/pdf")
    message.send()
    order.emailed_at = timezone.now()
    order.save(update_fields=["emailed_at"])
    audit_append(
        home=order.home_id,
        actor=None,
        action="order.emailed",
        obj=order,
        after={"to": order.email_to},
    )
    return True


def order_export(order: MedicationOrder) -> dict:
    """The order as JSON (R-ORD-1 "through the API"): the same data as the PDF."""
    return {
        "resourceType": "emar.MedicationOrder",
        "id": order.pk,
        "home": order.home.name,
        "pharmacy": order.pharmacy.name if order.pharmacy else None,
        "pharmacyOds": order.pharmacy.ods_code if order.pharmacy else None,
        "cycleStart": order.cycle_start.isoformat(),
        "cycleEnd": order.cycle_end.isoformat(),
        "status": order.status,
        "approvedAt": order.approved_at.isoformat() if order.approved_at else None,
        "approvedBy": str(order.approved_by) if order.approved_by else None,
        "items": [
            {
                "resident": i.line.resident.full_name,
                "nhsNumber": i.line.resident.nhs_number or None,
                "dateOfBirth": (
                    i.line.resident.date_of_birth.isoformat()
                    if i.line.resident.date_of_birth
                    else None
                ),
                "medicine": i.line.medicine.name,
                "dmdCode": i.line.medicine.dmd_code or None,
                "quantity": _n(i.quantity),
                "unit": i.line.dose_unit,
                "interim": i.interim,
                "received": _n(i.received),
            }
            for i in _items_for_print(order)
        ],
    }


# --- goods in (R-ORD-2) -------------------------------------------------------------------------


@dataclass
class ReportedDiscrepancy:
    kind: str
    quantity: Decimal | None = None
    description: str = ""
    order_item: OrderItem | None = None


@dataclass
class DeliveryLine:
    order_item: OrderItem
    quantity: Decimal
    batch: str = ""
    expiry: dt.date | None = None
    discrepancy: ReportedDiscrepancy | None = None


def _delivery_scope(**kwargs) -> dict:
    return {"order_id": kwargs["order"].pk}


@idempotent(Delivery, scope=_delivery_scope)
@transaction.atomic
def delivery_book(
    *,
    order: MedicationOrder,
    by: User,
    lines: list[DeliveryLine],
    extra: list[ReportedDiscrepancy] | None = None,
    witness: User | None = None,
    note: str = "",
    at: dt.datetime | None = None,
    idempotency_key: UUID | None = None,
) -> Delivery:
    """Book a whole delivery in against an approved order (R-ORD-2), all or nothing.

    Each item received is a receipt on its line's ledger through `stock_receive` (supplier,
    batch, expiry, and a witness for a register CD, on the register in this transaction).
    More than is outstanding needs a discrepancy; an item not received with a quantity still
    outstanding stays on the chase list."""
    home = order.home
    _require(by, Perm.MANAGE_STOCK, home, "book deliveries in")
    order = _locked_order(order)
    if order.status != OrderStatus.APPROVED:
        raise OrderError(
            "Only an approved order can be booked in against.", code="order_not_approved"
        )
    extra = list(extra or [])
    received = [d for d in lines if d.quantity]
    reported = [d.discrepancy for d in lines if d.discrepancy] + extra
    if not received and not reported:
        raise OrderError(
            "Enter what was received, or the discrepancy, for at least one item.",
            code="empty_delivery",
        )
    items = {i.pk: i for i in OrderItem.objects.select_for_update().filter(order=order)}  # the lock
    seen = set()
    for d in lines:
        item = items.get(d.order_item.pk)
        if item is None:
            raise OrderError("That item is not on this order.", code="not_on_order")
        if item.pk in seen:
            raise OrderError("Each item is booked in once per delivery.", code="item_twice")
        seen.add(item.pk)
        if d.discrepancy is not None:
            d.discrepancy.order_item = item
        name = f"{item.line.medicine.name} for {item.line.resident.full_name}"
        if d.quantity:
            _quantity(d.quantity, allow_zero=False)
            if d.quantity > item.outstanding and d.discrepancy is None:
                raise OrderError(
                    f"{name}: {_n(d.quantity)} received but only {_n(item.outstanding)} "
                    "outstanding. Record a discrepancy (not ordered) for the extra.",
                    code="more_than_ordered",
                )
        elif d.quantity is not None and d.quantity < 0:
            _quantity(d.quantity)
    for r in reported:
        if r.kind not in DeliveryDiscrepancyKind.values:
            raise OrderError("Choose what was wrong with the delivery.", code="bad_kind")
        if r.quantity is not None:
            _quantity(r.quantity)
        if r.order_item is None and not r.description.strip():
            raise OrderError(
                "Describe the item that was not on the order.", code="discrepancy_description"
            )
    delivery = Delivery.objects.create(
        home=home,
        order=order,
        received_at=at or timezone.now(),
        by=by,
        witness=witness,
        note=note.strip(),
        idempotency_key=idempotency_key,
    )
    supplier = order.pharmacy.name if order.pharmacy else ""
    for d in received:
        item = items[d.order_item.pk]
        movement = stock_receive(
            line=item.line,
            by=by,
            quantity=d.quantity,
            pharmacy=supplier,
            at=at,
            batch=d.batch,
            expiry=d.expiry,
            witness=witness if item.line.medicine.cd_register else None,
            note=f"Delivery against the order for the cycle from {order.cycle_start:%-d %b %Y}",
        )
        DeliveryItem.objects.create(
            delivery=delivery,
            order_item=item,
            movement=movement,
            quantity=d.quantity,
            batch=movement.batch,
            expiry=d.expiry,
        )
        item.received += d.quantity
        item.save(update_fields=["received"])
    DeliveryDiscrepancy.objects.bulk_create(
        DeliveryDiscrepancy(
            home=home,
            delivery=delivery,
            order_item=r.order_item,
            kind=r.kind,
            quantity=r.quantity,
            description=r.description.strip(),
            raised_by=by,
        )
        for r in reported
    )
    audit_append(
        home=home,
        actor=by,
        action="order.delivery_booked",
        obj=delivery,
        after={
            "order": order.pk,
            "items": {str(d.order_item.pk): d.quantity for d in received},
            "discrepancies": [r.kind for r in reported],
            "witness": witness.pk if witness else None,
        },
    )
    return delivery


@transaction.atomic
def delivery_discrepancy_resolve(
    *, discrepancy: DeliveryDiscrepancy, by: User, resolution: str
) -> DeliveryDiscrepancy:
    """Follow a delivery discrepancy up to its end, saying how (R-ORD-2)."""
    _require(by, Perm.MANAGE_STOCK, discrepancy.home, "follow up deliveries")
    resolution = resolution.strip()
    if not resolution:
        raise OrderError("Say how it was resolved.", code="resolution_required")
    discrepancy = DeliveryDiscrepancy.objects.select_for_update().get(pk=discrepancy.pk)
    if discrepancy.resolved_at is not None:
        raise OrderError("This discrepancy is resolved already.", code="resolved")
    discrepancy.resolved_at, discrepancy.resolved_by = timezone.now(), by
    discrepancy.resolution = resolution
    discrepancy.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    audit_append(
        home=discrepancy.home_id,
        actor=by,
        action="order.discrepancy_resolved",
        obj=discrepancy,
        after={"resolution": resolution},
    )
    return discrepancy
