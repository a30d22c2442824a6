"""Pack barcodes (R-SCAN-1, H-14): which catalogue product a GTIN is, and the scan behind a dose.

A GTIN is linked to a catalogue product once, at booking in, by the person who booked the pack
in. A link is never edited: a wrong one is retired by a new entry made by a senior (`replaces`),
so the chain of links of one GTIN is a line and its newest entry is the one in force. The
database keeps it a line: one first link per GTIN, and each link replaced at most once.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from emar.models import User

from .mar import Administration
from .prescriptions import Medicine

__all__ = ["DoseScan", "ProductBarcode"]


class ProductBarcode(models.Model):
    """A GTIN (14 digits, an EAN-13 with a leading zero) is this catalogue product."""

    gtin = models.CharField("GTIN", max_length=14)
    medicine = models.ForeignKey(Medicine, on_delete=models.PROTECT, related_name="barcodes")
    linked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField(default=timezone.now)
    replaces = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
        help_text="The wrong link this entry retires.",
    )
    reason = models.CharField(
        max_length=300, blank=True, help_text="Why the earlier link was wrong."
    )

    class Meta:
        ordering = ["gtin", "linked_at", "pk"]
        indexes = [models.Index(fields=["gtin"], name="product_barcode_gtin")]
        constraints = [
            models.UniqueConstraint(
                fields=["gtin"],
                condition=Q(replaces__isnull=True),
                name="product_barcode_one_first_link_per_gtin",
            ),
            models.CheckConstraint(
                condition=Q(gtin__regex=r"^[0-9]{14}$"), name="product_barcode_gtin_14_digits"
            ),
            models.CheckConstraint(
                condition=Q(replaces__isnull=True) | ~Q(reason=""),
                name="product_barcode_relink_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gtin} is {self.medicine}"


class DoseScan(models.Model):
    """The pack scanned for a dose recorded as given, or why none was (R-SCAN-1).

    Its content is written into the administration's audit entry, so it is covered by the
    audit trail with the record it belongs to."""

    administration = models.OneToOneField(
        Administration, on_delete=models.PROTECT, related_name="scan"
    )
    code = models.CharField("as scanned", max_length=200, blank=True)
    gtin = models.CharField("GTIN", max_length=14, blank=True)
    batch = models.CharField(max_length=20, blank=True)
    expiry = models.DateField(null=True, blank=True)
    serial = models.CharField(max_length=20, blank=True)
    barcode = models.ForeignKey(
        ProductBarcode,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The link that said this pack is the line's product.",
    )
    expired = models.BooleanField(default=False, help_text="The pack was past its expiry date.")
    no_scan_reason = models.CharField(max_length=300, blank=True)

    audit_covered_by = "administration"

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(gtin="") | ~Q(no_scan_reason=""),
                name="dose_scan_scanned_or_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Scan {self.gtin or '(none)'} for {self.administration_id}"
