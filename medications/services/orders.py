"""The monthly ordering cycle and goods in against the order (R-ORD-1, R-ORD-2, R-STK-4).

Preparation runs once per home and cycle: the order row is unique on (home, cycle start), so a
second run, a retried job or two workers at once make one order and one set of items. Each
item's quantity comes from the stock forecast (R-STK-4, `stock_forecast`): what the schedule
needs from now to the end of the next cycle, less the stock on hand; a PRN line orders what was
given over the last 28 days, less the stock on hand. Stopped lines are not due, so they are left
out; lines started since the last order are due, so they are in.

Goods in books each item through `stock_receive` (the one place a balance moves and a CD goes
on the register with its witness), in one transaction with the delivery and its discrepancies.
More than is still outstanding is refused (record the surplus as a "not ordered" discrepancy and
return it). Approval queues the email to the pharmacy by the task's name after commit; the task
sends it at most once (the order row is locked and stamped).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from uuid import UUID

from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from emar import permissions
from emar.celery import app as celery_app
from emar.models import CareHome, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append, idempotent

from ..models import (
    CYCLE_LENGTH,
    MAX_ORDER_QUANTITY,
    Delivery,
    DeliveryDiscrepancy,
    DeliveryItem,
    DeliveryProblem,
    DiscrepancyFollowUp,
    ItemBasis,
    LineStatus,
    MedicineOrder,
    MovementKind,
    OrderCycle,
    OrderItem,
    OrderStatus,
    Pharmacy,
    PrescriptionLine,
    StockMovement,
)
from ..rendering import order_pdf
from .scanning import scan_for_receipt
from .stock import stock_forecast, stock_receive

__all__ = [
    "DeliveredLine",
    "OrderError",
    "OutstandingItem",
    "ProblemInput",
    "delivery_book",
    "delivery_discrepancies_open",
    "discrepancy_follow_up",
    "order_approve",
    "order_cycle_set",
    "order_email_send",
    "order_item_add",
    "order_item_change",
    "order_outstanding",
    "order_prepare",
    "orders_due_prepare",
]

log = logging.getLogger(__name__)

PRN_LOOKBACK_DAYS = 28


class OrderError(DomainError):
    """An ordering or goods-in rule refused the action; `code` is stable."""


def _num(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def _require(by: User, home: CareHome | int, perm: Perm = Perm.MANAGE_STOCK) -> None:
    if not permissions.has_perm(by, perm, home):
        raise OrderError("Your role cannot manage orders in this home.", code="not_allowed")


def _check_quantity(quantity: Decimal | None) -> Decimal:
    try:
        ok = quantity is not None and Decimal(quantity).is_finite()
    except (InvalidOperation, TypeError):
        ok = False
    if not ok or quantity is None:
        raise OrderError("Enter the quantity as a number.", code="quantity_required")
    if quantity <= 0:
        raise OrderError("The quantity must be more than zero.", code="quantity_not_positive")
    if quantity > MAX_ORDER_QUANTITY:
        raise OrderError(
            f"The quantity cannot be more than {_num(MAX_ORDER_QUANTITY)}.",
            code="quantity_too_large",
        )
    return Decimal(quantity)


def _reason(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise OrderError(f"Say why {what}.", code="reason_required")
    if len(text) > 1000:
        raise OrderError("Keep the reason under 1000 characters.", code="reason_too_long")
    return text


# --- the cycle (R-ORD-1) -------------------------------------------------------------------------


@transaction.atomic
def order_cycle_set(
    *,
    home: CareHome,
    by: User,
    start_date: dt.date,
    lead_days: int,
    pharmacy: Pharmacy | None = None,
) -> OrderCycle:
    """Set the home's 28-day cycle: a first day and the order date's lead (1 to 21 days)."""
    _require(by, home, Perm.CONFIGURE_HOME)
    if not 1 <= lead_days <= 21:
        raise OrderError("Order 1 to 21 days before the next cycle.", code="bad_lead_days")
    if pharmacy is not None and not pharmacy.homes.filter(pk=home.pk).exists():
        raise OrderError("That pharmacy does not supply this home.", code="not_supplier")
    cycle = OrderCycle.objects.select_for_update().filter(home=home).first()
    before = (
        {"start": cycle.start_date, "lead": cycle.lead_days, "pharmacy": cycle.pharmacy_id}
        if cycle
        else None
    )
    if cycle is None:
        cycle = OrderCycle(home=home)
    cycle.start_date, cycle.lead_days, cycle.pharmacy = start_date, lead_days, pharmacy
    cycle.updated_by, cycle.updated_at = by, timezone.now()
    cycle.save()
    audit_append(
        home=home,
        actor=by,
        action="order.cycle_set",
        obj=cycle,
        before=before,
        after={"start": start_date, "lead": lead_days, "pharmacy": cycle.pharmacy_id},
    )
    return cycle


def _pharmacy_for(home: CareHome) -> Pharmacy | None:
    cycle = OrderCycle.objects.filter(home=home).select_related("pharmacy").first()
    if cycle is not None and cycle.pharmacy is not None:
        return cycle.pharmacy
    return home.pharmacies.order_by("name").first()


# --- preparation (R-ORD-1, R-STK-4) ------------------------------------------------------------


def _prn_use(line_ids: list[int], since: dt.datetime) -> dict[int, Decimal]:
    """What was given of each PRN line since `since`, from its stock ledger."""
    rows = (
        StockMovement.objects.filter(
            line_id__in=line_ids, kind=MovementKind.ADMINISTERED, at__gte=since
        )
        .values("line_id")
        .annotate(used=Sum("change"))
    )
    return {r["line_id"]: -r["used"] for r in rows}


@dataclass(frozen=True)
class _Proposal:
    line: PrescriptionLine
    basis: str
    quantity: Decimal
    note: str


def _proposals(home: CareHome, cycle_start: dt.date, now: dt.datetime) -> list[_Proposal]:
    """Each current line's quantity for the cycle starting `cycle_start` (R-ORD-1, R-STK-4)."""
    today = now.astimezone(home.tz).date()
    cycle_end = cycle_start + dt.timedelta(days=CYCLE_LENGTH - 1)
    days = max((cycle_end - today).days + 1, 1)
    forecasts = stock_forecast(home=home, now=now, days=days)
    prn_ids = [f.line.pk for f in forecasts if f.line.is_prn]
    used = _prn_use(prn_ids, now - dt.timedelta(days=PRN_LOOKBACK_DAYS))
    proposals = []
    for f in forecasts:
        line, unit = f.line, f.line.get_dose_unit_display()
        if line.end_date is not None and line.end_date < cycle_start:
            continue  # ends before the cycle: nothing to order
        on_hand = max(f.balance, Decimal(0))
        if line.is_prn:
            need = used.get(line.pk, Decimal(0))
            basis = ItemBasis.PRN
            how = f"given {_num(need)} {unit} in the last {PRN_LOOKBACK_DAYS} days"
        else:
            need = f.need_cycle
            basis = ItemBasis.SCHEDULED
            how = f"{_num(need)} {unit} scheduled to {cycle_end:%d %b %Y}"
        short = need - on_hand
        quantity = Decimal(math.ceil(short)) if short > 0 else Decimal(0)
        if quantity <= 0:
            continue
        proposals.append(
            _Proposal(
                line=line,
                basis=basis,
                quantity=min(quantity, MAX_ORDER_QUANTITY),
                note=f"{how}; {_num(on_hand)} {unit} in stock",
            )
        )
    return proposals


def _number(home: CareHome, cycle_start: dt.date) -> str:
    return f"ORD-{home.pk:03d}-{cycle_start:%Y%m%d}"


def order_prepare(
    *,
    home: CareHome,
    cycle_start: dt.date,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> tuple[MedicineOrder, bool]:
    """Prepare the order for the cycle starting `cycle_start`, once (R-ORD-1). Returns the
    order and whether this call made it. A second call, a retried job or a second worker meet
    the unique rule on (home, cycle start) and return the first order untouched."""
    if by is not None:
        _require(by, home)
    now = now or timezone.now()
    if existing := MedicineOrder.objects.filter(home=home, cycle_start=cycle_start).first():
        return existing, False
    try:
        with transaction.atomic():
            order = MedicineOrder.objects.create(
                home=home,
                cycle_start=cycle_start,
                cycle_end=cycle_start + dt.timedelta(days=CYCLE_LENGTH - 1),
                order_date=min(now.astimezone(home.tz).date(), cycle_start),
                number=_number(home, cycle_start),
                pharmacy=_pharmacy_for(home),
                prepared_at=now,
                prepared_by=by,
            )
            OrderItem.objects.bulk_create(
                OrderItem(
                    order=order,
                    line=p.line,
                    resident_id=p.line.resident_id,
                    medicine_id=p.line.medicine_id,
                    basis=p.basis,
                    proposed=p.quantity,
                    quantity=p.quantity,
                    note=p.note,
                    added_at=now,
                )
                for p in _proposals(home, cycle_start, now)
            )
            audit_append(
                home=home,
                actor=by,
                action="order.prepared",
                obj=order,
                after={"number": order.number, "cycle_start": cycle_start},
            )
    except IntegrityError:
        if existing := MedicineOrder.objects.filter(home=home, cycle_start=cycle_start).first():
            return existing, False
        raise
    return order, True


def orders_due_prepare(*, now: dt.datetime | None = None) -> int:
    """The beat job: each home whose order date for its next cycle has come and has no order
    for that cycle yet gets one (R-ORD-1). Returns how many orders were made."""
    now = now or timezone.now()
    made = 0
    for cycle in OrderCycle.objects.select_related("home").order_by("home_id"):
        home = cycle.home
        today = now.astimezone(home.tz).date()
        if today < cycle.start_date:
            continue
        next_start = cycle.next_start(today)
        if today < cycle.order_date(next_start):
            continue
        _order, created = order_prepare(home=home, cycle_start=next_start, now=now)
        made += created
    return made


# --- review and approval (R-ORD-1) ---------------------------------------------------------------


def _locked_draft(order: MedicineOrder) -> MedicineOrder:
    locked = MedicineOrder.objects.select_for_update().get(pk=order.pk)
    if locked.status != OrderStatus.DRAFT:
        raise OrderError("This order is approved: it can no longer change.", code="approved")
    return locked


@transaction.atomic
def order_item_change(*, item: OrderItem, by: User, quantity: Decimal, reason: str) -> OrderItem:
    """A senior changes a quantity on a draft order, saying why (before and after audited)."""
    _require(by, item.order.home_id)
    quantity = _check_quantity(quantity)
    reason = _reason(reason, "the quantity changes")
    _locked_draft(item.order)
    before = item.quantity
    item.quantity, item.reason = quantity, reason
    item.changed_by, item.changed_at = by, timezone.now()
    item.save(update_fields=["quantity", "reason", "changed_by", "changed_at"])
    audit_append(
        home=item.order.home_id,
        actor=by,
        action="order.item_changed",
        obj=item,
        before={"quantity": before},
        after={"quantity": quantity, "reason": reason},
    )
    return item


@idempotent(OrderItem, scope=lambda order, **_: {"order_id": order.pk})
@transaction.atomic
def order_item_add(
    *,
    order: MedicineOrder,
    line: PrescriptionLine,
    by: User,
    quantity: Decimal,
    reason: str,
    idempotency_key: UUID | None = None,
) -> OrderItem:
    """An interim item: a line the preparation did not order (R-ORD-1)."""
    _require(by, order.home_id)
    quantity = _check_quantity(quantity)
    reason = _reason(reason, "it is added")
    if line.home_id != order.home_id:
        raise OrderError("That line is not in this home.", code="other_home")
    line = PrescriptionLine.objects.select_related("medicine").get(pk=line.pk)
    if line.status != LineStatus.ACTIVE:
        raise OrderError("Only a current, checked line can be ordered.", code="line_not_live")
    _locked_draft(order)
    if OrderItem.objects.filter(order=order, line=line).exists():
        raise OrderError(
            "This line is already on the order: change its quantity instead.", code="duplicate"
        )
    item = OrderItem.objects.create(
        order=order,
        line=line,
        resident_id=line.resident_id,
        medicine_id=line.medicine_id,
        basis=ItemBasis.INTERIM,
        quantity=quantity,
        reason=reason,
        added_by=by,
        idempotency_key=idempotency_key,
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
def order_approve(*, order: MedicineOrder, by: User) -> MedicineOrder:
    """A senior approves the order (R-ORD-1); the email to the pharmacy is queued by name after
    commit. An empty order cannot be approved."""
    _require(by, order.home_id)
    locked = _locked_draft(order)
    if not OrderItem.objects.filter(order=locked).exists():
        raise OrderError(
            "The order has no items: add what is needed before approving.", code="empty_order"
        )
    locked.status = OrderStatus.APPROVED
    locked.approved_by, locked.approved_at = by, timezone.now()
    locked.save(update_fields=["status", "approved_by", "approved_at"])
    audit_append(
        home=locked.home_id,
        actor=by,
        action="order.approved",
        obj=locked,
        after={"number": locked.number, "items": locked.items.count()},
    )
    email = celery_app.signature("medications.tasks.order_email_send")  # by name: tasks import us
    pk = locked.pk
    transaction.on_commit(lambda: email.delay(pk))
    return locked


@transaction.atomic
def order_email_send(*, order_id: int) -> bool:
    """Email the approved order's PDF to the supplying pharmacy, at most once: the row is
    locked and stamped, so a second run or a second worker sends nothing."""
    order = (
        MedicineOrder.objects.select_for_update(of=("self",))
        .select_related("home", "pharmacy")
        .filter(pk=order_id)
        .first()
    )
    if order is None or order.status != OrderStatus.APPROVED or order.emailed_at is not None:
        return False
    to = order.pharmacy.email if order.pharmacy is not None else ""
    if not to:
        log.warning("order %s: the pharmacy has no email address; not sent", order.number)
        return False
    message = EmailMessage(
        subject=f"Medicines order {order.number} — {order.home.name}",
        body=(
            f"Please find attached the approved medicines order {order.number} from "
            f"{order.home.name} for the cycle {order.cycle_start:%d %b %Y} to "
            f"{order.cycle_end:%d %b %Y}.\n\nThis message was sent by eMAR."
        ),
        to=[to],
    )
    message.attach(f"order-{order.number}.pdf", order_pdf(order), "application/pdf")
    message.send()
    order.emailed_at, order.emailed_to = timezone.now(), to
    order.save(update_fields=["emailed_at", "emailed_to"])
    return True


# --- outstanding items and the chase list (R-ORD-1) -------------------------------------------


@dataclass(frozen=True)
class OutstandingItem:
    item: OrderItem
    received: Decimal
    days: int  # since the order was approved

    @property
    def outstanding(self) -> Decimal:
        return self.item.quantity - self.received


def _received(items: list[OrderItem]) -> dict[int, Decimal]:
    rows = (
        DeliveryItem.objects.filter(order_item__in=items)
        .values("order_item_id")
        .annotate(n=Sum("quantity"))
    )
    return {r["order_item_id"]: r["n"] for r in rows}


def order_outstanding(
    *, home: CareHome | None = None, order: MedicineOrder | None = None
) -> list[OutstandingItem]:
    """Items of approved orders not yet received in full (the chase list), oldest first."""
    qs: QuerySet[OrderItem] = OrderItem.objects.filter(order__status=OrderStatus.APPROVED)
    if home is not None:
        qs = qs.filter(order__home=home)
    if order is not None:
        qs = qs.filter(order=order)
    items = list(
        qs.select_related("order", "order__home", "resident", "medicine", "line").order_by(
            "order__approved_at", "resident__full_name", "medicine__name", "pk"
        )
    )
    received = _received(items)
    now = timezone.now()
    result = []
    for item in items:
        got = received.get(item.pk, Decimal(0))
        if got < item.quantity:
            approved = item.order.approved_at or now
            result.append(OutstandingItem(item, got, max((now - approved).days, 0)))
    return result


# --- goods in (R-ORD-2) -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveredLine:
    item: OrderItem
    quantity: Decimal
    batch: str = ""
    expiry: dt.date | None = None
    scan: str = ""  # the pack's barcode, if scanned (R-SCAN-1)


@dataclass(frozen=True)
class ProblemInput:
    kind: str
    description: str
    item: OrderItem | None = None


def _discrepancy_prefetch() -> Prefetch:
    return Prefetch("follow_ups", queryset=DiscrepancyFollowUp.objects.select_related("by"))


def _with_scan(d: DeliveredLine, *, by: User, home: CareHome) -> DeliveredLine:
    """A scanned pack at goods in (R-SCAN-1, H-14): its GTIN is linked to the item's product
    the first time, another product's pack refuses the delivery, and its batch and expiry fill
    what was not typed (typed values must agree with the pack)."""
    if not d.scan.strip():
        return d
    scanned = scan_for_receipt(product=d.item.line.medicine, code=d.scan, by=by, home=home).scan
    name = f"{d.item.medicine.name} for {d.item.resident.full_name}"
    batch = d.batch.strip()
    if batch and scanned.batch and batch != scanned.batch:
        raise OrderError(
            f"{name}: the batch typed ({batch}) is not the scanned pack's ({scanned.batch}).",
            code="scan_batch_differs",
        )
    if d.expiry and scanned.expiry and d.expiry != scanned.expiry:
        raise OrderError(
            f"{name}: the expiry typed ({d.expiry:%d/%m/%Y}) is not the scanned pack's "
            f"({scanned.expiry:%d/%m/%Y}).",
            code="scan_batch_differs",
        )
    return replace(d, batch=batch or scanned.batch, expiry=d.expiry or scanned.expiry)


@idempotent(Delivery, scope=lambda order, **_: {"order_id": order.pk})
@transaction.atomic
def delivery_book(
    *,
    order: MedicineOrder,
    by: User,
    lines: list[DeliveredLine],
    problems: list[ProblemInput] | None = None,
    witness: User | None = None,
    received_at: dt.datetime | None = None,
    note: str = "",
    idempotency_key: UUID | None = None,
) -> Delivery:
    """Book a whole delivery in against the order, item by item (R-ORD-2). Each item is a
    receipt on the line's stock ledger (`stock_receive`: a CD goes on the register with the
    witness, in this transaction); problems are recorded as discrepancies. More than is still
    outstanding is refused; so is an expiry in the past. Nothing is written unless all of it is."""
    home = order.home
    _require(by, home)
    problems = problems or []
    locked = MedicineOrder.objects.select_for_update().get(pk=order.pk)
    if locked.status != OrderStatus.APPROVED:
        raise OrderError("Approve the order before booking a delivery in.", code="not_approved")
    received_at = received_at or timezone.now()
    today = received_at.astimezone(home.tz).date()
    lines = [d for d in lines if d.quantity]
    if not lines and not problems:
        raise OrderError(
            "Enter what was received, or record what is missing.", code="nothing_booked"
        )
    outstanding = {o.item.pk: o.outstanding for o in order_outstanding(order=locked)}
    lines = [_with_scan(d, by=by, home=home) for d in lines]
    for d in lines:
        name = f"{d.item.medicine.name} for {d.item.resident.full_name}"
        if d.item.order_id != locked.pk:
            raise OrderError("That item is not on this order.", code="other_order")
        _check_quantity(d.quantity)
        left = outstanding.get(d.item.pk, Decimal(0))
        if d.quantity > left:
            raise OrderError(
                f"{name}: {_num(d.quantity)} is more than the {_num(left)} still outstanding. "
                "Book in what was ordered and record the rest as a 'not ordered' discrepancy "
                "(then return it).",
                code="more_than_ordered",
            )
        if d.expiry is not None and d.expiry < today:
            raise OrderError(
                f"{name}: the expiry {d.expiry:%d/%m/%Y} is in the past: do not book it in.",
                code="expired",
            )
    for p in problems:
        if p.kind not in DeliveryProblem.values:
            raise OrderError("Choose what the problem is.", code="bad_problem")
        if not p.description.strip():
            raise OrderError("Describe the problem.", code="description_required")
        if len(p.description.strip()) > 1000:
            raise OrderError("Keep the description under 1000 characters.", code="too_long")
        if p.item is not None and p.item.order_id != locked.pk:
            raise OrderError("That item is not on this order.", code="other_order")
    delivery = Delivery.objects.create(
        order=locked,
        home=home,
        received_at=received_at,
        by=by,
        witness=witness,
        note=note.strip()[:1000],
        idempotency_key=idempotency_key,
    )
    supplier = locked.pharmacy.name if locked.pharmacy is not None else "Supplying pharmacy"
    for d in lines:
        movement = stock_receive(
            line=d.item.line,
            by=by,
            quantity=d.quantity,
            pharmacy=supplier,
            at=received_at,
            batch=d.batch,
            expiry=d.expiry,
            witness=witness if d.item.line.medicine.cd_register else None,
            note=f"Order {locked.number}",
        )
        DeliveryItem.objects.create(
            delivery=delivery,
            order_item=d.item,
            quantity=d.quantity,
            batch=d.batch.strip()[:60],
            expiry=d.expiry,
            movement=movement,
        )
    for p in problems:
        discrepancy = DeliveryDiscrepancy.objects.create(
            delivery=delivery,
            home=home,
            order_item=p.item,
            kind=p.kind,
            description=p.description.strip(),
            raised_by=by,
        )
        audit_append(
            home=home,
            actor=by,
            action="order.delivery_discrepancy",
            record=discrepancy,
            after={"kind": p.kind, "item": p.item.pk if p.item else None},
        )
    audit_append(
        home=home,
        actor=by,
        action="order.delivery",
        record=delivery,
        after={
            "order": locked.number,
            "items": {d.item.pk: d.quantity for d in lines},
            "discrepancies": len(problems),
        },
    )
    return delivery


@idempotent(DiscrepancyFollowUp, scope=lambda discrepancy, **_: {"discrepancy_id": discrepancy.pk})
@transaction.atomic
def discrepancy_follow_up(
    *,
    discrepancy: DeliveryDiscrepancy,
    by: User,
    resolution: str,
    resolved: bool = False,
    idempotency_key: UUID | None = None,
) -> DiscrepancyFollowUp:
    """What was done about a delivery discrepancy: a new entry, never an edit (R-ORD-2)."""
    _require(by, discrepancy.home_id)
    resolution = _reason(resolution, "— what was done")
    if DiscrepancyFollowUp.objects.filter(discrepancy=discrepancy, resolved=True).exists():
        raise OrderError("This discrepancy is already resolved.", code="already_resolved")
    entry = DiscrepancyFollowUp.objects.create(
        discrepancy=discrepancy,
        resolution=resolution,
        resolved=resolved,
        by=by,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=discrepancy.home_id,
        actor=by,
        action="order.discrepancy_follow_up",
        record=entry,
        after={"discrepancy": discrepancy.pk, "resolved": resolved},
    )
    return entry


def delivery_discrepancies_open(home: CareHome) -> QuerySet[DeliveryDiscrepancy]:
    """Delivery discrepancies with no resolving follow-up, newest first."""
    return (
        DeliveryDiscrepancy.objects.filter(home=home)
        .exclude(Q(follow_ups__resolved=True))
        .select_related("order_item__medicine", "order_item__resident", "raised_by", "delivery")
        .prefetch_related(_discrepancy_prefetch())
    )
