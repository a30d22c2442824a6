"""Records saved on a tablet without a connection (R-OFF-1, R-OFF-2, H-13).

A dose recorded offline waits on the tablet and is then sent through the round's own view and
`administration_record`, so it needs no table of its own. What does is the one thing the
server cannot see otherwise: a queued record the server refused, which its author chose to
discard rather than correct. Nothing queued is dropped silently."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from emar.models import CareHome, IdempotentRecord, User, idempotency_unique

from .mar import ScheduledDose

__all__ = ["LATE_REASON_QUEUED", "OfflineDiscard"]

# The late-entry reason of a dose saved on the tablet during an outage and sent once back, when
# it arrives after its window closed (R-OFF-1): audits tell it from other late entries.
LATE_REASON_QUEUED = "Network outage: saved on the tablet, sent once back"


class OfflineDiscard(IdempotentRecord):
    """A queued record that the server refused (recorded by someone else, PRN interval, gate,
    window) and that the person who made it discarded, with their reason (R-OFF-2). The key is
    the queued record's own key: one queued record is discarded once, however often sent."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="offline_discards")
    dose = models.ForeignKey(
        ScheduledDose, on_delete=models.PROTECT, related_name="offline_discards"
    )
    discarded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    discarded_at = models.DateTimeField(default=timezone.now)
    tapped_at = models.DateTimeField(help_text="When the dose was tapped on the tablet.")
    outcome = models.CharField(max_length=16)
    reason = models.CharField(max_length=500, help_text="Why it was discarded.")
    refusal = models.CharField(max_length=1000, blank=True, help_text="What the server said.")
    payload = models.JSONField(default=dict, help_text="The queued form, as saved on the tablet.")

    class Meta:
        ordering = ["-discarded_at", "-pk"]
        constraints = [idempotency_unique()]

    def __str__(self) -> str:
        return f"Offline record discarded: dose {self.dose_id} by {self.discarded_by}"
