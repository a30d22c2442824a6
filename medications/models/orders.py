"""The monthly ordering cycle and goods in (R-ORD-1, R-ORD-2).

Each home has a 28-day medicines cycle (`OrderCycle`: the first day of a cycle and how many days
before the next cycle the order is made). On the order date one `MedicationOrder` is prepared per
home and cycle — the database keeps it to one, so a second run of the job creates nothing. A
senior reviews its items, changes quantities with a reason, adds interim items and approves it;
the approved order is emailed to the supplying pharmacy as a PDF once (`emailed_at`).

A delivery (`Delivery`) is booked in against the order on one screen: each item received is a
stock receipt on the line's ledger (the same stock service as booking in one line, so a CD goes
on the register with its witness in the same transaction), and each discrepancy (missing, short,
wrong strength, not ordered, damaged) is a `DeliveryDiscrepancy` followed up until resolved.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from emar.models import CareHome, IdempotentRecord, User, idempotency_unique

from .imports import Pharmacy
from .prescriptions import PrescriptionLine
from .stock import StockMovement

__all__ = [
    "Delivery",
    "DeliveryDiscrepancy",
    "DeliveryDiscrepancyKind",
    "DeliveryItem",
    "MedicationOrder",
    "OrderCycle",
    "OrderItem",
    "OrderStatus",
]


class OrderCycle(models.Model):
    """A home's medicines cycle (R-ORD-1): 28 days from `start`, repeating; the order for the
    next cycle is prepared `order_days_before` days before it starts."""

    home = models.OneToOneField(CareHome, on_delete=models.PROTECT, related_name="order_cycle")
    start = models.DateField(help_text="The first day of any one cycle (cycles repeat every 28).")
    order_days_before = models.PositiveSmallIntegerField(
        default=7, help_text="How many days before the next cycle the order is prepared."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(order_days_before__gte=1) & Q(order_days_before__lte=21),
                name="order_cycle_days_before_1_to_21",
            )
        ]

    def __str__(self) -> str:
        return f"{self.home}: cycle from {self.start}"


class OrderStatus(models.TextChoices):
    PREPARED = "prepared", "Awaiting a senior's review"
    APPROVED = "approved", "Approved and sent"


class MedicationOrder(models.Model):
    """The order for one home's next cycle; one per home and cycle (the database's rule)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="medication_orders")
    cycle_start = models.DateField()
    cycle_end = models.DateField()
    order_date = models.DateField()
    status = models.CharField(max_length=10, choices=OrderStatus, default=OrderStatus.PREPARED)
    prepared_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pharmacy = models.ForeignKey(
        Pharmacy, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    email_to = models.EmailField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["home", "-cycle_start"]
        constraints = [
            models.UniqueConstraint(fields=["home", "cycle_start"], name="order_once_per_cycle"),
            models.CheckConstraint(
                condition=Q(status="prepared")
                | Q(approved_at__isnull=False, approved_by__isnull=False, pharmacy__isnull=False),
                name="order_approved_has_who_when_pharmacy",
            ),
        ]

    def __str__(self) -> str:
        return f"Order for {self.home}, cycle from {self.cycle_start}"

    @property
    def approved(self) -> bool:
        return self.status == OrderStatus.APPROVED


class OrderItem(models.Model):
    """One line's quantity on an order. `proposed` is what the preparation worked out (None for
    an interim item a senior added); `quantity` is what is ordered; `received` is what has been
    booked in against it so far (moved only by the goods-in service, under the order's lock)."""

    order = models.ForeignKey(MedicationOrder, on_delete=models.PROTECT, related_name="items")
    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="+")
    proposed = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    basis = models.CharField(max_length=300, blank=True, help_text="How `proposed` was worked out.")
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    interim = models.BooleanField(default=False)
    reason = models.TextField(blank=True, help_text="Why the quantity differs, or why interim.")
    changed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)
    received = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal(0))

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line"], name="order_item_once_per_line"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="order_item_quantity_gte_0"),
            models.CheckConstraint(condition=Q(received__gte=0), name="order_item_received_gte_0"),
            models.CheckConstraint(
                condition=Q(interim=False) | ~Q(reason=""), name="order_item_interim_has_reason"
            ),
            models.CheckConstraint(
                condition=Q(changed_by__isnull=True) | ~Q(reason=""),
                name="order_item_change_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.line_id}"

    @property
    def outstanding(self) -> Decimal:
        return max(self.quantity - self.received, Decimal(0))


class Delivery(IdempotentRecord):
    """A delivery from the pharmacy booked in against an order (R-ORD-2)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(MedicationOrder, on_delete=models.PROTECT, related_name="deliveries")
    received_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(witness__isnull=True) | ~Q(witness=F("by")),
                name="delivery_witness_is_someone_else",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"Delivery for order {self.order_id} at {self.received_at:%Y-%m-%d %H:%M}"


class DeliveryItem(models.Model):
    """One item of a delivery booked into stock: its receipt on the line's ledger."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="items")
    order_item = models.ForeignKey(OrderItem, on_delete=models.PROTECT, related_name="deliveries")
    movement = models.OneToOneField(
        StockMovement, on_delete=models.PROTECT, related_name="delivery_item"
    )
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    batch = models.CharField(max_length=60, blank=True)
    expiry = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="delivery_item_quantity_gt_0")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} for order item {self.order_item_id}"


class DeliveryDiscrepancyKind(models.TextChoices):
    MISSING = "missing", "Missing"
    SHORT = "short", "Short"
    WRONG_STRENGTH = "wrong_strength", "Wrong strength"
    NOT_ORDERED = "not_ordered", "Not ordered"
    DAMAGED = "damaged", "Damaged"


class DeliveryDiscrepancy(models.Model):
    """Something wrong with a delivery (R-ORD-2), listed and followed up until resolved."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="discrepancies")
    order_item = models.ForeignKey(
        OrderItem, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies"
    )
    kind = models.CharField(max_length=16, choices=DeliveryDiscrepancyKind)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    description = models.TextField(blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    raised_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        verbose_name_plural = "delivery discrepancies"
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | ~Q(resolution=""),
                name="delivery_discrepancy_resolution_has_text",
            ),
            models.CheckConstraint(
                condition=Q(order_item__isnull=False) | ~Q(description=""),
                name="delivery_discrepancy_says_what",
            ),
        ]
        indexes = [
            models.Index(
                fields=["home"],
                condition=Q(resolved_at__isnull=True),
                name="delivery_discrepancy_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (delivery {self.delivery_id})"
