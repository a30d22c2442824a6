"""The downtime kit of a unit (R-OFF-4, H-10, H-13): the printable MAR of the next three days and
the unit's CD register pages, rebuilt in the background after prescription changes and daily, so
that a round can go on paper the moment the network fails."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from emar.models import (
    BackgroundBuild,
    CareHome,
    IdempotentRecord,
    Unit,
    User,
    auto_retry_constraint,
    idempotency_unique,
    text_max_length,
)

__all__ = ["DOWNTIME_DAYS", "DowntimeKit", "KitReason", "KitStatus", "PaperRound"]

# The downtime MAR covers today and the next two days (R-OFF-4).
DOWNTIME_DAYS = 3


def kit_path(instance: models.Model, filename: str) -> str:
    # The name is an unguessable token; the file is only served through a checked view.
    return f"downtime-kits/{filename}"


class KitStatus(models.TextChoices):
    # A change arrived; the kit waits `DOWNTIME_KIT_DEBOUNCE_MINUTES` so that several changes
    # in a row make one build. Then the build statuses of `emar.models.BuildStatus`.
    WAITING = "waiting", "Waiting for more changes"
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class KitReason(models.TextChoices):
    CHANGE = "change", "Prescription changes"
    DAILY = "daily", "Daily rebuild"


class DowntimeKit(BackgroundBuild):
    """One build of a unit's downtime kit. A change marks the unit's one waiting kit (the
    database allows one per unit), so each change is counted on exactly one kit, and the kit is
    queued once its debounce time has passed (`medications.services.downtime_kits_sweep`)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="downtime_kits")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="downtime_kits")
    reason = models.CharField(max_length=8, choices=KitReason, default=KitReason.CHANGE)
    changes = models.PositiveIntegerField(
        default=0, help_text="Prescription changes this build takes in."
    )
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(help_text="When a waiting kit is queued.")
    start = models.DateField(null=True, blank=True, help_text="First day; set when queued.")
    days = models.PositiveSmallIntegerField(default=DOWNTIME_DAYS)
    status = models.CharField(max_length=8, choices=KitStatus, default=KitStatus.WAITING)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=120, blank=True)
    file = models.FileField(upload_to=kit_path, blank=True, max_length=200)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    charts = models.PositiveIntegerField(default=0, help_text="Residents on the MAR.")
    cd_pages = models.PositiveIntegerField(default=0, help_text="CD register pages.")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    build_task = "medications.tasks.downtime_kit_build"

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            *text_max_length("error"),
            models.UniqueConstraint(
                fields=["unit"], condition=Q(status="waiting"), name="downtime_kit_one_waiting"
            ),
            models.CheckConstraint(
                condition=Q(status="waiting") | Q(start__isnull=False),
                name="downtime_kit_queued_has_start",
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | ~Q(sha256=""), name="downtime_kit_ready_has_file"
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="downtime_kit_progress_in_range"
            ),
            auto_retry_constraint("downtime_kit"),
        ]
        indexes = [
            models.Index(fields=["unit", "status", "-finished_at"], name="downtime_kit_latest"),
            models.Index(fields=["status", "due_at"], name="downtime_kit_due"),
        ]

    def __str__(self) -> str:
        return f"Downtime kit {self.unit.name} from {self.start} ({self.status})"

    @property
    def is_ready(self) -> bool:
        return self.status == KitStatus.READY

    @property
    def title(self) -> str:
        return f"Downtime MAR — {self.unit.name}, {self.home.name}"


class PaperRound(IdempotentRecord):
    """A unit working on paper (R-OFF-4): from when a manager switched it to paper until they
    switched it back. Its doses are then back-entered from the paper MAR through the same
    service as any record. One open paper round per unit (database rule)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="paper_rounds")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="paper_rounds")
    reason = models.CharField(max_length=300)
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit"], condition=Q(ended_at__isnull=True), name="paper_round_one_open"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="paper_round_ends_after_start",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"Paper round {self.unit.name} from {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None
