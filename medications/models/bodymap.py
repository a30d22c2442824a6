"""Body map sites of topical medicines (R-MAR-17): where a line says to apply it, with the
instructions for each site, and where each application went.

Both are clinical records written only by services and never edited: a line's sites are
entered with the line (and checked with it, R-RX-4); a change of sites is a new line, as any
other change of a line. The site codes are the fixed list in `medications/bodymap.py`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from .. import bodymap
from .mar import Administration
from .prescriptions import PrescriptionLine

__all__ = ["AppliedSite", "LineSite"]

SITE_CODES = [s.code for s in bodymap.SITES]


class LineSite(models.Model):
    """One site a topical line is to be applied to, with its own instructions."""

    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="sites")
    site = models.CharField(max_length=40, choices=bodymap.SITE_CHOICES)
    instructions = models.CharField(
        max_length=200, blank=True, help_text="e.g. 'thin layer, twice a day, avoid broken skin'"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["line", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["line", "site"], name="line_site_once"),
            models.CheckConstraint(condition=Q(site__in=SITE_CODES), name="line_site_on_the_map"),
        ]

    def __str__(self) -> str:
        return f"{self.label} (line {self.line_id})"

    @property
    def label(self) -> str:
        return bodymap.label(self.site)


class AppliedSite(models.Model):
    """One site an application of a topical line went to (R-MAR-17)."""

    administration = models.ForeignKey(
        Administration, on_delete=models.PROTECT, related_name="applied_sites"
    )
    site = models.CharField(max_length=40, choices=bodymap.SITE_CHOICES)

    class Meta:
        ordering = ["administration", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["administration", "site"], name="applied_site_once"),
            models.CheckConstraint(
                condition=Q(site__in=SITE_CODES), name="applied_site_on_the_map"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} (administration {self.administration_id})"

    @property
    def label(self) -> str:
        return bodymap.label(self.site)
