"""The supplying pharmacy and the prescription lines it sends through the API (R-RX-12,
R-FHIR-5).

A pharmacy is an organisation that supplies one or more homes. It acts through its own
account (a `User` with no role in any home and no password, so it can never sign in to the
screens); its API tokens are that account's tokens. Each imported MedicationRequest becomes a
prescription line "awaiting check" entered by that account, with a `PharmacyImport` row that
keeps the pharmacy's identifier (one line per identifier, enforced by the database), the
resource as sent, and the senior's decision.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from emar.models import CareHome, User

from .prescriptions import PrescriptionLine


class Pharmacy(models.Model):
    """A supplying pharmacy (R-RX-12): it may send prescription lines for residents of the
    homes it supplies, and nothing else."""

    name = models.CharField(max_length=200, unique=True)
    ods_code = models.CharField(
        "ODS code", max_length=10, blank=True, help_text="The pharmacy's NHS ODS code, e.g. FA123."
    )
    email = models.EmailField(blank=True, help_text="Where approved orders are sent (R-ORD-1).")
    account = models.OneToOneField(User, on_delete=models.PROTECT, related_name="pharmacy")
    homes = models.ManyToManyField(CareHome, related_name="pharmacies", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "pharmacies"
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="pharmacy_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class ImportDecision(models.TextChoices):
    PENDING = "pending", "Awaiting a senior's check"
    ACCEPTED = "accepted", "Checked and accepted"
    UNCHANGED = "unchanged", "Same as the current line"
    REJECTED = "rejected", "Rejected"


class PharmacyImport(models.Model):
    """One MedicationRequest received from a pharmacy and the line it became (R-FHIR-5)."""

    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="imports")
    line = models.OneToOneField(
        PrescriptionLine, on_delete=models.PROTECT, related_name="pharmacy_import"
    )
    identifier_system = models.CharField(max_length=300, blank=True)
    identifier_value = models.CharField(max_length=300)
    # The lines of one transaction Bundle for one resident: the pharmacy's whole list, so a
    # current line missing from it is shown as "stopped?" (R-RX-12).
    batch = models.UUIDField()
    is_full_list = models.BooleanField(default=False)
    resource = models.JSONField(help_text="The MedicationRequest as the pharmacy sent it.")
    received_at = models.DateTimeField(default=timezone.now)
    decision = models.CharField(
        max_length=10, choices=ImportDecision, default=ImportDecision.PENDING
    )
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    replaced = models.ForeignKey(
        PrescriptionLine,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by_import",
        help_text="The current line this one replaced (or matched) when accepted.",
    )

    class Meta:
        ordering = ["received_at", "pk"]
        indexes = [models.Index(fields=["decision", "received_at"], name="import_decision")]
        constraints = [
            models.UniqueConstraint(
                fields=["pharmacy", "identifier_system", "identifier_value"],
                name="pharmacy_import_one_per_identifier",
            ),
            models.CheckConstraint(
                condition=~Q(identifier_value=""), name="pharmacy_import_identifier_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(decision="pending", decided_by__isnull=True, decided_at__isnull=True)
                | (~Q(decision="pending") & Q(decided_by__isnull=False, decided_at__isnull=False)),
                name="pharmacy_import_decided_by_someone",
            ),
            models.CheckConstraint(
                condition=~Q(decision="rejected") | ~Q(reason=""),
                name="pharmacy_import_reject_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identifier_system}|{self.identifier_value} from {self.pharmacy}"
