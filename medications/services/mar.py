"""MAR services: keeping scheduled doses in step with prescriptions, and recording doses
(R-MAR-1..13)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from emar.models import CareHome, Round, Unit

from .. import selectors
from ..models import Administration, ScheduledDose

__all__ = ["SyncResult", "doses_sync", "nearest_round"]


@dataclass(frozen=True)
class SyncResult:
    created: int
    cancelled: int
    restored: int
    updated: int


def nearest_round(local_time: dt.time, rounds: list[Round]) -> Round | None:
    """The round a dose belongs to on the round screen: the nearest round time (earlier wins a
    tie)."""
    if not rounds:
        return None
    minutes = local_time.hour * 60 + local_time.minute
    return min(rounds, key=lambda r: (abs(r.time.hour * 60 + r.time.minute - minutes), r.time))


@transaction.atomic
def doses_sync(
    *,
    home: CareHome,
    start: dt.date,
    end: dt.date,
    unit: Unit | None = None,
    now: dt.datetime | None = None,
) -> SyncResult:
    """Make the scheduled doses of local days `start`..`end` match the prescriptions.

    New doses are created (a dose whose window closed before its line was checked never
    existed); doses no longer due are cancelled and doses due again restored, but only from
    `now` on: the past is never rewritten, so a gap stays a gap (R-RX-3, R-MAR-2). Recorded
    doses are never touched. Safe to run concurrently: the unique rule on (line, time) decides.
    """
    now = now or timezone.now()
    rounds = list(Round.objects.filter(home=home))
    wanted = {
        (d.line.pk, d.at): d
        for d in selectors.doses_due(home=home, start=start, end=end, unit=unit)
    }
    existing_qs = ScheduledDose.objects.filter(home=home, local_date__range=(start, end))
    if unit is not None:
        existing_qs = existing_qs.filter(Q(unit=unit) | Q(resident__unit=unit))
    existing_qs = existing_qs.annotate(
        recorded=Exists(Administration.objects.filter(dose=OuterRef("pk")))
    )
    existing = {(s.line_id, s.due_at): s for s in existing_qs}

    cancel, restore, update = [], [], []
    for key, s in existing.items():
        if s.recorded or s.due_at < now:
            continue
        d = wanted.get(key)
        if d is None:
            if s.cancelled_at is None:
                cancel.append(s.pk)
            continue
        if s.cancelled_at is not None:
            restore.append(s.pk)
        fresh = _fields(d, home, rounds)
        if any(getattr(s, f) != v for f, v in fresh.items() if f not in ("home_id",)):
            for f, v in fresh.items():
                setattr(s, f, v)
            update.append(s)
    if cancel:
        ScheduledDose.objects.filter(pk__in=cancel).update(cancelled_at=now)
    if restore:
        ScheduledDose.objects.filter(pk__in=restore).update(cancelled_at=None)
    if update:
        ScheduledDose.objects.bulk_update(update, [f for f in _FIELDS if f != "home_id"])

    new = [
        ScheduledDose(**_fields(d, home, rounds))
        for key, d in wanted.items()
        if key not in existing
        and not (
            d.line.checked_at
            and d.at + dt.timedelta(minutes=d.tolerance_minutes) < d.line.checked_at
        )
    ]
    ScheduledDose.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    return SyncResult(len(new), len(cancel), len(restore), len(update))


_FIELDS = (
    "home_id",
    "unit_id",
    "resident_id",
    "line_id",
    "due_at",
    "window_opens",
    "window_closes",
    "local_date",
    "local_time",
    "round_id",
    "label",
    "dose",
    "dose_text",
    "needs_dose_entry",
    "time_sensitive",
    "self_administered",
    "covert",
)


def _fields(d: selectors.DueDose, home: CareHome, rounds: list[Round]) -> dict:
    tolerance = dt.timedelta(minutes=d.tolerance_minutes)
    round_ = nearest_round(d.local_time, rounds)
    return {
        "home_id": home.pk,
        "unit_id": d.resident.unit_id,
        "resident_id": d.resident.pk,
        "line_id": d.line.pk,
        "due_at": d.at,
        "window_opens": d.at - tolerance,
        "window_closes": d.at + tolerance,
        "local_date": d.local_date,
        "local_time": d.local_time,
        "round_id": round_.pk if round_ else None,
        "label": d.label[:60],
        "dose": d.dose,
        "dose_text": d.dose_text[:120],
        "needs_dose_entry": d.needs_dose_entry,
        "time_sensitive": d.time_sensitive,
        "self_administered": d.self_administered,
        "covert": d.covert,
    }
