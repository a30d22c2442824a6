"""Reminders and alerts on Celery (R-ALR-1..3, R-ALR-5): thin wrappers over
`medications.reminders`. Each is `acks_late` and retried with backoff; a second run, a retry or a
second worker sends nothing twice because the notifications are unique in the database."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from emar.models import CareHome

from . import reminders

# Transient failures (database restarted, connection dropped, broker hiccup) are retried; a
# retry of any of these jobs is harmless.
RETRY = {
    "acks_late": True,
    "autoretry_for": (DatabaseError, OSError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}


def _at(now: str | None) -> dt.datetime:
    return dt.datetime.fromisoformat(now) if now else timezone.now()


# A minute job must finish well before the next beat.
@shared_task(**RETRY, soft_time_limit=45, time_limit=55)
def dose_reminders_sweep(now: str | None = None) -> dict[str, int]:
    """Every minute: rounds opening, time-sensitive doses due soon, missed doses to escalate."""
    result = reminders.dose_reminders_sweep(now=_at(now))
    return {
        "doses": result.doses,
        "round_open": result.round_open,
        "time_sensitive": result.time_sensitive,
        "missed": result.missed,
    }


@shared_task(
    **{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], reminders.SyncFailed)},
    soft_time_limit=540,
    time_limit=580,
)
def doses_sync_all() -> int:
    """Every 10 minutes: materialise each home's doses for local yesterday..tomorrow."""
    return reminders.doses_sync_all()


@shared_task(**RETRY, soft_time_limit=240, time_limit=280)
def away_doses_record(now: str | None = None) -> int:
    """Every 5 minutes: code the due doses of residents away H or L (R-RES-6, H-16). A re-run,
    a retry or a second worker records nothing twice (one outcome per dose, keyed records)."""
    from .services import away_doses_record as record

    return record(now=_at(now))


@shared_task(**RETRY, soft_time_limit=240, time_limit=280)
def prn_follow_up_alerts(now: str | None = None) -> int:
    """Every 5 minutes: PRN doses given over an hour ago without an effectiveness follow-up."""
    return reminders.prn_follow_up_alerts_send(now=_at(now))


@shared_task(**RETRY, soft_time_limit=1500, time_limit=1700)
def medicines_daily_alerts() -> int:
    """Daily: covert-plan and PRN-protocol reviews due, medication reviews overdue."""
    return sum(reminders.daily_alerts_send(home=home) for home in CareHome.objects.order_by("pk"))


@shared_task(**RETRY, soft_time_limit=1500, time_limit=1700)
def mar_print_build(print_id: int, attempt: int | None = None) -> str:
    """On the reports queue: draw a unit's or the whole home's MAR charts as one PDF."""
    from .services import mar_print_build as build

    return build(print_id=print_id, attempt=attempt).status


@shared_task(**RETRY, soft_time_limit=45, time_limit=55)
def downtime_kits_sweep() -> dict[str, int]:
    """Every minute: queue the downtime kits whose changes have settled, and the daily ones."""
    from .services import downtime_kits_sweep as sweep

    return sweep()


@shared_task(**RETRY, soft_time_limit=1500, time_limit=1700)
def downtime_kit_build(kit_id: int, attempt: int | None = None) -> str:
    """On the reports queue: draw a unit's downtime MAR and CD register pages (R-OFF-4)."""
    from .services import downtime_kit_build as build

    return build(kit_id=kit_id, attempt=attempt).status


@shared_task(**RETRY, soft_time_limit=540, time_limit=580)
def orders_prepare(now: str | None = None) -> int:
    """Hourly: each home whose order date has come gets its order for the next cycle, once per
    home and cycle (R-ORD-1: a unique row per home and cycle start, so a re-run makes nothing)."""
    from .services import orders_due_prepare

    return orders_due_prepare(now=_at(now))


@shared_task(**RETRY, soft_time_limit=120, time_limit=150)
def order_email_send(order_id: int) -> bool:
    """Email an approved order's PDF to the supplying pharmacy, at most once (R-ORD-1)."""
    from .services import order_email_send as send

    return send(order_id=order_id)
