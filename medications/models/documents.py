"""Documents linked to the prescription line they justify (R-RES-7).

The documents themselves belong to the resident record (`residents.ResidentDocument`); the
link lives here because residents knows nothing of medications (STYLE.md). A link is never
removed: a document uploaded in error is withdrawn, and shows as withdrawn wherever it is
linked. The covert plan screen shows the links of its line.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from emar.models import User
from residents.models import ResidentDocument

from .prescriptions import PrescriptionLine


class LineDocument(models.Model):
    """One resident document linked to one line; the same pair once, whoever links first."""

    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.PROTECT, related_name="document_links"
    )
    document = models.ForeignKey(
        ResidentDocument, on_delete=models.PROTECT, related_name="line_links"
    )
    linked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["line", "linked_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["line", "document"], name="line_document_once"),
        ]

    def __str__(self) -> str:
        return f"{self.document} for line {self.line_id}"
