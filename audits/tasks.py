"""Background jobs of the audits feature: thin Celery wrappers over `audits.services`.

Each is `acks_late` (a worker that dies mid-job leaves it queued) and retried with backoff;
running one twice is harmless because the audit is unique per home and month and a report or
pack that is ready is never rebuilt."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from emar.models import CareHome

from . import services
from .models import previous_month

RETRY = {
    "acks_late": True,
    "autoretry_for": (DatabaseError, OSError),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**RETRY, soft_time_limit=1500, time_limit=1700)
def monthly_audits_prepare(month: str | None = None) -> int:
    """Beat, on the 1st: prepare every home's audit of the previous month (R-AUD-1). Each home
    uses its own calendar, so the month is taken from each home's local date."""
    made = 0
    for home in CareHome.objects.order_by("pk"):
        target = (
            dt.date.fromisoformat(month)
            if month
            else previous_month(timezone.now().astimezone(home.tz).date())
        )
        before = home.audits.filter(month=target.replace(day=1)).exists()
        services.audit_prepare(home=home, month=target)
        made += not before
    return made


@shared_task(**RETRY, soft_time_limit=240, time_limit=280)
def audit_report_build(report_id: int, attempt: int | None = None) -> str:
    """Build and store a signed audit's PDF (R-AUD-4)."""
    return services.audit_report_build(report_id=report_id, attempt=attempt).status


@shared_task(**RETRY, soft_time_limit=1500, time_limit=1700)
def evidence_pack_build(pack_id: int, attempt: int | None = None) -> str:
    """Build and store an evidence pack ZIP (R-INS-2)."""
    return services.evidence_pack_build(pack_id=pack_id, attempt=attempt).status
