"""MAR charts of a whole unit or home printed in the background (R-MAR-12, H-10): a unit of
hundreds of residents takes minutes to draw, so the web request only queues it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from emar.models import (
    BackgroundBuild,
    BuildStatus,
    CareHome,
    Unit,
    User,
    auto_retry_constraint,
    text_max_length,
)

__all__ = ["MarPrint"]


def print_path(instance: models.Model, filename: str) -> str:
    # The name is an unguessable token; the file is only served through a checked view.
    return f"mar-prints/{filename}"


class MarPrint(BackgroundBuild):
    """One requested PDF of the MAR charts of every current resident of a unit (or, without a
    unit, of the whole home) for a period."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="mar_prints")
    unit = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mar_prints",
        help_text="Empty: every unit of the home.",
    )
    start = models.DateField()
    days = models.PositiveSmallIntegerField()
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=8, choices=BuildStatus.choices, default="queued")
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=120, blank=True)
    file = models.FileField(upload_to=print_path, blank=True, max_length=200)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    charts = models.PositiveIntegerField(default=0, help_text="Residents printed.")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    build_task = "medications.tasks.mar_print_build"

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            *text_max_length("error"),
            models.CheckConstraint(
                condition=Q(days__gte=1, days__lte=42), name="mar_print_days_in_range"
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | ~Q(sha256=""), name="mar_print_ready_has_file"
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100),
                name="mar_print_progress_in_range",
            ),
            auto_retry_constraint("mar_print"),
        ]
        indexes = [models.Index(fields=["home", "-requested_at"], name="mar_print_home_time")]

    def __str__(self) -> str:
        where = self.unit.name if self.unit_id else "whole home"
        return f"MAR print {where} from {self.start} ({self.status})"

    @property
    def is_ready(self) -> bool:
        return self.status == BuildStatus.READY

    @property
    def title(self) -> str:
        where = f"{self.unit.name}, {self.home.name}" if self.unit_id else self.home.name
        return f"MAR charts — {where}"
