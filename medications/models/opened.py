"""Opened medicines: when a resident's liquid, cream, drops or inhaler was opened and its in-use
expiry (R-STK-7, H-15).

An opening is a record, never edited: the in-use expiry is computed once, when the pack is
opened, from the product's shelf life after opening (`medications/shelf_life.py`), and stored
with where the figure came from. Finishing or discarding a pack is a new entry
(`OpenedSupplyEnd`, at most one per opening, which the database keeps). Opening a new pack of
the same line makes it the one in use: the round and the lists read the newest opening of each
line that has not ended.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone

from emar.models import CareHome, IdempotentRecord, User, idempotency_unique
from residents.models import Resident

from .prescriptions import PrescriptionLine

__all__ = ["OpenedEndKind", "OpenedSupply", "OpenedSupplyEnd"]


class OpenedSupply(IdempotentRecord):
    """One pack of a resident's line opened (R-STK-7)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="openings")
    opened_at = models.DateTimeField(help_text="When the pack was opened.")
    opened_on = models.DateField(help_text="The home's local date of opening.")
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    in_use_days = models.PositiveSmallIntegerField(null=True, blank=True)
    in_use_expiry = models.DateField(
        null=True,
        blank=True,
        help_text="The last day it may be used; blank when no in-use limit nor pack expiry is "
        "known.",
    )
    shelf_life_basis = models.CharField(max_length=300, blank=True)
    batch = models.CharField(max_length=60, blank=True)
    pack_expiry = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(in_use_days__isnull=True) | Q(in_use_days__gt=0),
                name="opened_supply_in_use_days_positive",
            ),
            models.CheckConstraint(
                condition=Q(in_use_expiry__isnull=True)
                | Q(in_use_expiry__gte=models.F("opened_on")),
                name="opened_supply_expiry_after_opening",
            ),
            idempotency_unique(),
        ]
        indexes = [
            models.Index(fields=["line", "opened_at"], name="opened_supply_line"),
            models.Index(fields=["home", "in_use_expiry"], name="opened_supply_home_expiry"),
        ]

    def __str__(self) -> str:
        return f"Line {self.line_id} opened {self.opened_on}"

    def expired_on(self, day: dt.date) -> bool:
        """Past its in-use expiry on `day` (the expiry day itself is the last day of use)."""
        return self.in_use_expiry is not None and day > self.in_use_expiry

    def days_left(self, day: dt.date) -> int | None:
        if self.in_use_expiry is None:
            return None
        return (self.in_use_expiry - day).days


class OpenedEndKind(models.TextChoices):
    FINISHED = "finished", "Finished (used up)"
    DISCARDED = "discarded", "Discarded"


class OpenedSupplyEnd(IdempotentRecord):
    """An opened pack finished or discarded: a new entry, the opening stays as it was."""

    opening = models.OneToOneField(OpenedSupply, on_delete=models.PROTECT, related_name="end")
    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=OpenedEndKind)
    at = models.DateTimeField()
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [idempotency_unique()]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: opening {self.opening_id}"
