"""The monthly ordering cycle and goods in against the order (R-ORD-1, R-ORD-2).

A home's medicines month is a 28-day cycle: `OrderCycle` holds its first day and how many days
before the next cycle the order is prepared. One `MedicineOrder` per home and cycle (the
database refuses a second, so a re-run or a retried job prepares nothing twice); its items are
what a senior reviews and approves. A `Delivery` books what the pharmacy sent against the
order, each `DeliveryItem` through the stock receipt service (so the ledger and the CD register
move as for any receipt); problems are `DeliveryDiscrepancy` rows, followed up by new
`DiscrepancyFollowUp` entries, never by editing the discrepancy.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from emar.models import CareHome, IdempotentRecord, User, idempotency_unique, text_max_length
from residents.models import Resident

from .imports import Pharmacy
from .prescriptions import Medicine, PrescriptionLine
from .stock import StockMovement

__all__ = [
    "CYCLE_LENGTH",
    "MAX_ORDER_QUANTITY",
    "Delivery",
    "DeliveryDiscrepancy",
    "DeliveryItem",
    "DeliveryProblem",
    "DiscrepancyFollowUp",
    "ItemBasis",
    "MedicineOrder",
    "OrderCycle",
    "OrderItem",
    "OrderStatus",
]

CYCLE_LENGTH = 28  # days (R-ORD-1)
MAX_ORDER_QUANTITY = Decimal(10000)  # more than any home orders of one line in a cycle


class OrderCycle(models.Model):
    """A home's 28-day medicines cycle (R-ORD-1): settings, changed by the manager."""

    home = models.OneToOneField(CareHome, on_delete=models.PROTECT, related_name="order_cycle")
    start_date = models.DateField(
        "first day of a cycle",
        help_text="Any cycle's first day; the cycles follow every 28 days from it.",
    )
    lead_days = models.PositiveSmallIntegerField(
        "order this many days before the next cycle",
        default=7,
        help_text="On that day the order for the next cycle is prepared for a senior to review.",
    )
    pharmacy = models.ForeignKey(
        Pharmacy,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="supplying pharmacy",
    )
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(lead_days__gte=1) & Q(lead_days__lte=21),
                name="order_cycle_lead_days_1_to_21",
            )
        ]

    def __str__(self) -> str:
        return f"{self.home}: 28-day cycle from {self.start_date:%d %b %Y}"

    def current_start(self, day: dt.date) -> dt.date:
        """The first day of the cycle that `day` falls in."""
        return self.start_date + dt.timedelta(
            days=((day - self.start_date).days // CYCLE_LENGTH) * CYCLE_LENGTH
        )

    def next_start(self, day: dt.date) -> dt.date:
        return self.current_start(day) + dt.timedelta(days=CYCLE_LENGTH)

    def order_date(self, cycle_start: dt.date) -> dt.date:
        """The day the order for the cycle starting `cycle_start` is prepared."""
        return cycle_start - dt.timedelta(days=self.lead_days)


class OrderStatus(models.TextChoices):
    DRAFT = "draft", "Prepared: awaiting a senior's review"
    APPROVED = "approved", "Approved and sent to the pharmacy"


class MedicineOrder(models.Model):
    """The order of one home for one cycle (R-ORD-1): prepared once, reviewed, approved."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="medicine_orders")
    cycle_start = models.DateField()
    cycle_end = models.DateField()
    order_date = models.DateField()
    number = models.CharField(max_length=40, unique=True)
    pharmacy = models.ForeignKey(
        Pharmacy, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(max_length=10, choices=OrderStatus, default=OrderStatus.DRAFT)
    prepared_at = models.DateTimeField(default=timezone.now)
    prepared_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when the beat job prepared it on the order date.",
    )
    approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    emailed_to = models.EmailField(blank=True)

    class Meta:
        ordering = ["-cycle_start", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["home", "cycle_start"], name="medicine_order_once_per_home_cycle"
            ),
            models.CheckConstraint(
                condition=Q(status="draft", approved_by__isnull=True, approved_at__isnull=True)
                | Q(status="approved", approved_by__isnull=False, approved_at__isnull=False),
                name="medicine_order_approved_by_someone",
            ),
            models.CheckConstraint(
                condition=Q(cycle_end__gt=F("cycle_start")), name="medicine_order_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.number}"

    @property
    def approved(self) -> bool:
        return self.status == OrderStatus.APPROVED


class ItemBasis(models.TextChoices):
    SCHEDULED = "scheduled", "From the schedule"
    PRN = "prn", "PRN: by recent use"
    INTERIM = "interim", "Added by a senior"


class OrderItem(IdempotentRecord):
    """One line's quantity on an order. `proposed` is what preparation worked out; a senior
    may change `quantity` with a reason while the order is a draft (audited before/after)."""

    order = models.ForeignKey(MedicineOrder, on_delete=models.PROTECT, related_name="items")
    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    medicine = models.ForeignKey(Medicine, on_delete=models.PROTECT, related_name="+")
    basis = models.CharField(max_length=10, choices=ItemBasis)
    proposed = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal(0))
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    note = models.TextField(blank=True, help_text="How the quantity was worked out.")
    reason = models.TextField(blank=True, help_text="Why a senior changed or added it.")
    added_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "resident__full_name", "medicine__name", "pk"]
        constraints = [
            *text_max_length("note", "reason"),
            models.UniqueConstraint(fields=["order", "line"], name="order_item_once_per_line"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0) & Q(quantity__lte=MAX_ORDER_QUANTITY),
                name="order_item_quantity_in_bounds",
            ),
            models.CheckConstraint(
                condition=Q(changed_at__isnull=True) | ~Q(reason=""),
                name="order_item_change_has_reason",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.medicine} for {self.resident}"


class Delivery(IdempotentRecord):
    """A delivery from the pharmacy booked in against an order (R-ORD-2), on one screen."""

    order = models.ForeignKey(MedicineOrder, on_delete=models.PROTECT, related_name="deliveries")
    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["received_at", "pk"]
        verbose_name_plural = "deliveries"
        constraints = [*text_max_length("note"), idempotency_unique()]

    def __str__(self) -> str:
        return f"Delivery for {self.order} on {self.received_at:%d %b %Y}"


class DeliveryItem(models.Model):
    """What came for one order item in one delivery; its stock receipt is `movement`."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="items")
    order_item = models.ForeignKey(OrderItem, on_delete=models.PROTECT, related_name="received")
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    batch = models.CharField(max_length=60, blank=True)
    expiry = models.DateField(null=True, blank=True)
    movement = models.OneToOneField(
        StockMovement, on_delete=models.PROTECT, related_name="delivery_item"
    )

    class Meta:
        ordering = ["delivery", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="delivery_item_quantity_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} for {self.order_item_id}"


class DeliveryProblem(models.TextChoices):
    MISSING = "missing", "Missing"
    SHORT = "short", "Short"
    WRONG_STRENGTH = "wrong_strength", "Wrong strength"
    NOT_ORDERED = "not_ordered", "Not ordered"
    DAMAGED = "damaged", "Damaged"


class DeliveryDiscrepancy(IdempotentRecord):
    """A problem with a delivery (R-ORD-2). Never edited: follow-ups are new entries."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="discrepancies")
    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    order_item = models.ForeignKey(
        OrderItem, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies"
    )
    kind = models.CharField(max_length=16, choices=DeliveryProblem)
    description = models.TextField()
    raised_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        verbose_name_plural = "delivery discrepancies"
        constraints = [
            *text_max_length("description"),
            models.CheckConstraint(
                condition=~Q(description=""), name="delivery_discrepancy_has_description"
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.description[:40]}"


class DiscrepancyFollowUp(IdempotentRecord):
    """What was done about a delivery discrepancy; `resolved` closes it (R-ORD-2)."""

    discrepancy = models.ForeignKey(
        DeliveryDiscrepancy, on_delete=models.PROTECT, related_name="follow_ups"
    )
    resolution = models.TextField("what was done")
    resolved = models.BooleanField("this resolves the discrepancy", default=False)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["discrepancy", "at", "pk"]
        constraints = [
            *text_max_length("resolution"),
            models.CheckConstraint(
                condition=~Q(resolution=""), name="discrepancy_follow_up_has_text"
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"Follow-up of {self.discrepancy_id}"
