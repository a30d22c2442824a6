"""Stock, the controlled-drugs register and medicine storage (R-STK-1..6, R-CD-1..3).

Every tablet and millilitre is a row of an append-only ledger (`StockMovement`) per prescription
line; the line's `Stock` row holds the running balance and is locked (select_for_update) by
every writer, so two movements at once never lose an update. Each movement carries the balance
before and after it and a per-line sequence number that the database keeps unique, so the
ledger is a chain: balance = carried forward + received - administered - destroyed - returned
± adjustments, at all times.

The CD register (R-CD-1, R-CD-2) is not a separate book that could disagree with the ledger: it
is the ledger of the register drugs, read one page per resident per product.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from emar.models import CareHome, IdempotentRecord, User, idempotency_unique, text_max_length
from residents.models import Resident

from .homely import HomelyRemedy, HomelyRemedyDose
from .mar import Administration
from .prescriptions import PrescriptionLine

__all__ = [
    "FRIDGE_MAX",
    "FRIDGE_MIN",
    "ROOM_MAX",
    "DiscrepancyKind",
    "HomelyMovementKind",
    "HomelyRemedyMovement",
    "HomelyRemedyStock",
    "LocationKind",
    "MovementKind",
    "Stock",
    "StockCheck",
    "StockDiscrepancy",
    "StockMovement",
    "StorageLocation",
    "TemperatureReading",
]

FRIDGE_MIN, FRIDGE_MAX, ROOM_MAX = Decimal(2), Decimal(8), Decimal(25)  # °C (R-STK-6)


class MovementKind(models.TextChoices):
    CARRIED_FORWARD = "carried_forward", "Carried forward"
    RECEIVED = "received", "Received"
    ADMINISTERED = "administered", "Administered"
    DESTROYED = "destroyed", "Destroyed"
    RETURNED = "returned", "Returned"
    ADJUSTED = "adjusted", "Adjusted"
    # R-STK-8: a dose change moves the supply from the old line to the new one.
    TRANSFER_OUT = "transfer_out", "Transferred to the new line"
    TRANSFER_IN = "transfer_in", "Transferred from the previous line"


IN_KINDS = (MovementKind.CARRIED_FORWARD, MovementKind.RECEIVED)
OUT_KINDS = (MovementKind.ADMINISTERED, MovementKind.DESTROYED, MovementKind.RETURNED)


class Stock(models.Model):
    """The running balance of one resident's supply of one line (R-STK-1). The row every stock
    writer locks; `seq` is the number of movements so far."""

    line = models.OneToOneField(PrescriptionLine, on_delete=models.PROTECT, related_name="stock")
    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    balance = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal(0))
    seq = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["home"], name="stock_home")]

    def __str__(self) -> str:
        return f"{self.balance} of line {self.line_id}"


class StockMovement(IdempotentRecord):
    """One entry of a line's stock ledger; never edited or deleted. A mistake is put right by a
    dated correcting entry (`corrects`) with the reason (R-CD-2).

    `change` is signed: positive in (carried forward, received), negative out (administered,
    destroyed, returned), either way for an adjustment — zero for a stock check that agreed.
    """

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="stock_movements")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="stock_movements")
    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.PROTECT, related_name="stock_movements"
    )
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=MovementKind)
    change = models.DecimalField(max_digits=10, decimal_places=3)
    balance_before = models.DecimalField(max_digits=10, decimal_places=3)
    balance_after = models.DecimalField(max_digits=10, decimal_places=3)
    at = models.DateTimeField(help_text="When it happened.")
    recorded_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Receipts (R-STK-1): the supplier, batch and expiry.
    pharmacy = models.CharField("received from", max_length=200, blank=True)
    batch = models.CharField(max_length=60, blank=True)
    expiry = models.DateField(null=True, blank=True)
    # Returns and disposals (R-STK-5); also the reason of an adjustment or correction.
    reason = models.TextField(blank=True)
    destination = models.CharField(max_length=200, blank=True)
    receipt_ref = models.CharField("pharmacy receipt reference", max_length=100, blank=True)
    administration = models.ForeignKey(
        Administration,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_movements",
        help_text="The MAR record that moved this stock (administered, code D, a correction).",
    )
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrected_by"
    )
    transfer_line = models.ForeignKey(
        PrescriptionLine,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The other line of a transfer (R-STK-8).",
    )

    # R-SEC-4: a movement made by a dose is digested with the dose's audited record.
    audit_covered_by = "administration"

    class Meta:
        ordering = ["line", "seq"]
        constraints = [
            *text_max_length("reason"),
            models.UniqueConstraint(fields=["line", "seq"], name="stock_movement_seq_in_line"),
            models.UniqueConstraint(
                fields=["administration"],
                condition=Q(administration__isnull=False),
                name="stock_movement_once_per_administration",
            ),
            models.CheckConstraint(
                condition=Q(balance_after=F("balance_before") + F("change")),
                name="stock_movement_balance_adds_up",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["carried_forward", "received"], change__gt=0)
                    | Q(kind__in=["administered", "destroyed", "returned"], change__lt=0)
                    | Q(kind="adjusted")
                    | Q(kind="transfer_in", change__gt=0, transfer_line__isnull=False)
                    | Q(kind="transfer_out", change__lt=0, transfer_line__isnull=False)
                ),
                name="stock_movement_direction_by_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind="received") | ~Q(pharmacy=""),
                name="stock_receipt_has_supplier",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["returned", "adjusted"]) | ~Q(reason=""),
                name="stock_return_or_adjustment_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(witness__isnull=True) | ~Q(witness=F("by")),
                name="stock_witness_is_someone_else",
            ),
            idempotency_unique(),
        ]
        indexes = [
            models.Index(fields=["resident", "recorded_at"], name="stock_move_resident_time"),
            models.Index(fields=["home", "kind", "at"], name="stock_move_home_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.change} (line {self.line_id} #{self.seq})"

    @property
    def quantity(self) -> Decimal:
        return abs(self.change)

    @property
    def quantity_in(self) -> Decimal | None:
        return self.change if self.change > 0 else None

    @property
    def quantity_out(self) -> Decimal | None:
        return -self.change if self.change < 0 else None


class StockCheck(IdempotentRecord):
    """A count of one line's stock against the ledger (R-STK-3); two people for a CD (R-CD-3).
    Its movement is the adjustment (zero when the count agreed), so it is on the register."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="stock_checks")
    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="+")
    movement = models.OneToOneField(
        StockMovement, on_delete=models.PROTECT, related_name="stock_check"
    )
    expected = models.DecimalField(max_digits=10, decimal_places=3)
    counted = models.DecimalField(max_digits=10, decimal_places=3)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            *text_max_length("note"),
            models.CheckConstraint(condition=Q(counted__gte=0), name="stock_check_count_positive"),
            models.CheckConstraint(
                condition=Q(witness__isnull=True) | ~Q(witness=F("by")),
                name="stock_check_witness_is_someone_else",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"Check of line {self.line_id}: counted {self.counted}, expected {self.expected}"

    @property
    def difference(self) -> Decimal:
        return self.counted - self.expected


class DiscrepancyKind(models.TextChoices):
    NEGATIVE_BALANCE = "negative_balance", "Dose recorded with no stock left"
    COUNT = "count", "Stock check did not match"


class StockDiscrepancy(models.Model):
    """A stock or CD discrepancy (R-STK-2, R-STK-3, R-CD-3). Kept here so the audits feature
    can list and investigate them (it reads medications; medications never reads audits)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="stock_discrepancies")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=DiscrepancyKind)
    controlled_drug = models.BooleanField(default=False)
    expected = models.DecimalField(max_digits=10, decimal_places=3)
    found = models.DecimalField(max_digits=10, decimal_places=3)
    movement = models.ForeignKey(
        StockMovement, on_delete=models.PROTECT, related_name="discrepancies"
    )
    check_record = models.OneToOneField(
        StockCheck, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancy"
    )
    theft_suspected = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    raised_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            *text_max_length("note", "resolution"),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | ~Q(resolution=""),
                name="stock_discrepancy_resolution_has_text",
            ),
        ]
        indexes = [models.Index(fields=["home", "raised_at"], name="stock_discrepancy_home")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: line {self.line_id}"

    @property
    def difference(self) -> Decimal:
        return self.found - self.expected


class LocationKind(models.TextChoices):
    FRIDGE = "fridge", "Medicines fridge (2–8 °C)"
    ROOM = "room", "Medicines room (up to 25 °C)"


class StorageLocation(models.Model):
    """A medicines fridge or room whose temperature is logged daily (R-STK-6)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="storage_locations")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=6, choices=LocationKind)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["home", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["home", "name"], name="storage_location_name_in_home")
        ]

    def __str__(self) -> str:
        return self.name


class TemperatureReading(IdempotentRecord):
    """A daily reading: current, minimum and maximum since the last reset, and the reset
    confirmed (R-STK-6). Out of range (fridge outside 2 to 8 °C, room above 25 °C) cannot be
    saved without the action taken — the database refuses it too."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="readings")
    kind = models.CharField(max_length=6, choices=LocationKind)  # the location's
    local_date = models.DateField()
    taken_at = models.DateTimeField()
    current = models.DecimalField(max_digits=4, decimal_places=1)
    minimum = models.DecimalField(max_digits=4, decimal_places=1)
    maximum = models.DecimalField(max_digits=4, decimal_places=1)
    reset_confirmed = models.BooleanField(default=False)
    action_taken = models.TextField(blank=True)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["location", "taken_at", "pk"]
        constraints = [
            *text_max_length("action_taken"),
            models.CheckConstraint(
                condition=Q(minimum__lte=F("current")) & Q(current__lte=F("maximum")),
                name="temperature_min_current_max_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(action_taken="")
                | Q(kind="fridge", minimum__gte=FRIDGE_MIN, maximum__lte=FRIDGE_MAX)
                | Q(kind="room", maximum__lte=ROOM_MAX),
                name="temperature_out_of_range_has_action",
            ),
            idempotency_unique(),
        ]
        indexes = [models.Index(fields=["location", "local_date"], name="temperature_location_day")]

    def __str__(self) -> str:
        return f"{self.location} {self.current} °C on {self.local_date}"

    @property
    def out_of_range(self) -> bool:
        if self.kind == LocationKind.FRIDGE:
            return self.minimum < FRIDGE_MIN or self.maximum > FRIDGE_MAX
        return self.maximum > ROOM_MAX


# --- the home's own supply of homely remedies (R-MAR-11) -----------------------------------------


class HomelyMovementKind(models.TextChoices):
    RECEIVED = "received", "Received"
    GIVEN = "given", "Given"
    ADJUSTED = "adjusted", "Adjusted"
    DISPOSED = "disposed", "Disposed"


class HomelyRemedyStock(models.Model):
    """The running balance of the home's supply of one homely remedy (R-MAR-11): not per
    resident. The row every writer locks, as `Stock` is for a line; `seq` counts movements."""

    remedy = models.OneToOneField(HomelyRemedy, on_delete=models.PROTECT, related_name="stock")
    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    balance = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal(0))
    seq = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.balance} of {self.remedy_id}"


class HomelyRemedyMovement(IdempotentRecord):
    """One entry of a homely remedy's ledger; never edited or deleted. `change` is signed, as
    in `StockMovement`; a dose given moves it once (the link to the dose is unique)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    remedy = models.ForeignKey(HomelyRemedy, on_delete=models.PROTECT, related_name="movements")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=HomelyMovementKind)
    change = models.DecimalField(max_digits=10, decimal_places=3)
    balance_before = models.DecimalField(max_digits=10, decimal_places=3)
    balance_after = models.DecimalField(max_digits=10, decimal_places=3)
    at = models.DateTimeField(help_text="When it happened.")
    recorded_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    dose = models.ForeignKey(
        HomelyRemedyDose,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_movements",
    )

    # R-SEC-4: a movement made by a dose is digested with the dose's audited record.
    audit_covered_by = "dose"

    class Meta:
        ordering = ["remedy", "seq"]
        constraints = [
            *text_max_length("note"),
            models.UniqueConstraint(fields=["remedy", "seq"], name="homely_movement_seq"),
            models.UniqueConstraint(
                fields=["dose"],
                condition=Q(dose__isnull=False),
                name="homely_movement_once_per_dose",
            ),
            models.CheckConstraint(
                condition=Q(balance_after=F("balance_before") + F("change")),
                name="homely_movement_balance_adds_up",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="received", change__gt=0)
                    | Q(kind__in=["given", "disposed"], change__lt=0)
                    | Q(kind="adjusted")
                ),
                name="homely_movement_direction_by_kind",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.change} (remedy {self.remedy_id} #{self.seq})"
