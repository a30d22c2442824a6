"""The downtime kit of each unit (R-OFF-4, H-10, H-13): the MAR of the next three days and the
unit's CD register pages as one PDF, rebuilt in the background and kept ready for the moment the
network fails.

Exactly once per change: a prescription change marks its unit in the change's own transaction
(`downtime_kit_mark`), counting the change on the unit's one waiting kit (a partial unique rule
allows one), so a change that commits is never missed and a change that rolls back never
counts. `downtime_kits_sweep` (beat) queues each waiting kit once its debounce time has passed,
under a row lock, so several changes within `DOWNTIME_KIT_DEBOUNCE_MINUTES` make one build; a
change that arrives after its kit was queued starts a new waiting kit. The build is an ordinary
background build (`emar.jobs`): a job whose worker dies is queued again by the stale sweep, and
a job of an earlier attempt does nothing. The same sweep queues a daily kit for each unit whose
kits all start on an earlier day, so the kit always covers today and the next two days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from emar import jobs, permissions
from emar.models import CareHome, Unit, User
from emar.pdf import render_pdf_parts
from emar.permissions import Perm
from emar.services import DomainError, audit_append, idempotent
from residents.models import Resident, room_order

from ..chart import mar_chart
from ..models import (
    DowntimeKit,
    KitReason,
    KitStatus,
    Medicine,
    PaperRound,
    Stock,
)
from ..rendering import PRINT_TEMPLATE, print_context
from .mar import doses_sync_for_read
from .stock import cd_register_entries

__all__ = [
    "PaperRoundError",
    "downtime_kit_build",
    "downtime_kit_latest",
    "downtime_kit_mark",
    "downtime_kits_sweep",
    "paper_round_end",
    "paper_round_start",
]

CD_TEMPLATE = "medications/print/downtime_cd_register.html"


def _debounce() -> dt.timedelta:
    return dt.timedelta(minutes=settings.DOWNTIME_KIT_DEBOUNCE_MINUTES)


def downtime_kit_mark(
    *,
    units: Iterable[Unit | int],
    now: dt.datetime | None = None,
    reason: str = KitReason.CHANGE,
    due_at: dt.datetime | None = None,
) -> None:
    """Count one change on each unit's waiting kit, creating it when there is none. Call it
    inside the transaction that makes the change (a rollback then counts nothing)."""
    now = now or timezone.now()
    due_at = due_at or now + _debounce()
    unit_ids = sorted({u if isinstance(u, int) else u.pk for u in units})
    homes = dict(Unit.objects.filter(pk__in=unit_ids).values_list("pk", "home_id"))
    for unit_id in unit_ids:
        # A sweep may queue the waiting kit between the insert and the count: then the count
        # finds no waiting kit and the next turn makes a new one for this change.
        for _ in range(3):
            DowntimeKit.objects.bulk_create(
                [
                    DowntimeKit(
                        home_id=homes[unit_id],
                        unit_id=unit_id,
                        reason=reason,
                        due_at=due_at,
                        created_at=now,
                        updated_at=now,
                    )
                ],
                ignore_conflicts=True,  # the unit's waiting kit exists: count on it
            )
            if DowntimeKit.objects.filter(unit_id=unit_id, status=KitStatus.WAITING).update(
                changes=F("changes") + 1
            ):
                break
        else:  # pragma: no cover - three sweeps between two statements
            raise RuntimeError(f"could not mark the downtime kit of unit {unit_id}")


def _queue(kit_id: int, now: dt.datetime) -> bool:
    """Queue one waiting kit that is due; False when another sweep took it or a change holds
    it (the next sweep takes it)."""
    with transaction.atomic():
        kit = (
            # Only the kit's row (not its home's): a change holding it is skipped till next time.
            DowntimeKit.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("home")
            .filter(pk=kit_id, status=KitStatus.WAITING, due_at__lte=now)
            .first()
        )
        if kit is None:
            return False
        kit.status = KitStatus.QUEUED
        kit.start = now.astimezone(kit.home.tz).date()
        kit.updated_at = now
        kit.save(update_fields=["status", "start", "updated_at"])
        jobs.build_enqueue(kit)
    return True


def _units_without_todays_kit(now: dt.datetime) -> list[int]:
    """Units none of whose kits (waiting, or built or building from today on) cover today."""
    missing: list[int] = []
    homes = CareHome.objects.prefetch_related("units").order_by("pk")
    for home in homes:
        today = now.astimezone(home.tz).date()
        unit_ids = [u.pk for u in home.units.all()]
        covered = set(
            DowntimeKit.objects.filter(
                Q(start__gte=today) | Q(status=KitStatus.WAITING), unit_id__in=unit_ids
            ).values_list("unit_id", flat=True)
        )
        missing.extend(u for u in unit_ids if u not in covered)
    return missing


def downtime_kits_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: queue every waiting kit whose debounce time has passed, and a daily kit for each
    unit whose kits all start before today. Safe to run twice at once: each kit is queued under
    its row lock, and a unit has at most one waiting kit."""
    now = now or timezone.now()
    daily = _units_without_todays_kit(now)
    if daily:
        with transaction.atomic():
            downtime_kit_mark(units=daily, now=now, reason=KitReason.DAILY, due_at=now)
    due = DowntimeKit.objects.filter(status=KitStatus.WAITING, due_at__lte=now).order_by("due_at")
    queued = sum(_queue(pk, now) for pk in due.values_list("pk", flat=True))
    return {"daily": len(daily), "queued": queued}


def _cd_pages(residents: list[Resident]) -> list[dict]:
    """One register page per resident and CD product the unit holds stock of (R-CD-1)."""
    pairs = (
        Stock.objects.filter(resident__in=residents, line__medicine__cd_register=True)
        .values_list("resident_id", "line__medicine_id")
        .distinct()
    )
    medicines = Medicine.objects.in_bulk({m for _, m in pairs})
    by_id = {r.pk: r for r in residents}
    pages = []
    for resident_id, medicine_id in sorted(
        pairs, key=lambda p: (residents.index(by_id[p[0]]), medicines[p[1]].name)
    ):
        resident, medicine = by_id[resident_id], medicines[medicine_id]
        pages.append(
            {
                "resident": resident,
                "medicine": medicine,
                "entries": cd_register_entries(resident=resident, medicine=medicine),
            }
        )
    return pages


def downtime_kit_build(*, kit_id: int, attempt: int | None = None) -> DowntimeKit:
    """Draw and store the unit's kit once: the MAR of `start` and the next two days, then its
    CD register pages. A rerun of a ready kit, or a job of an earlier attempt, does nothing."""
    kit = jobs.build_start(model=DowntimeKit, pk=kit_id, attempt=attempt)
    if kit is None:
        return DowntimeKit.objects.get(pk=kit_id)
    kit = DowntimeKit.objects.select_related("home", "unit").get(pk=kit_id)
    home, unit = kit.home, kit.unit
    assert kit.start is not None  # a queued kit has its first day (database rule)
    try:
        jobs.build_progress(kit, 2, "Scheduling the doses")
        end = kit.start + dt.timedelta(days=kit.days - 1)
        doses_sync_for_read(home=home, start=kit.start, end=end, unit=unit)
        residents = sorted(
            Resident.objects.current().filter(unit=unit).select_related("home", "unit"),
            key=lambda r: (room_order(r.room), r.full_name),
        )
        charts = []
        for i, resident in enumerate(residents):
            jobs.build_progress(
                kit, 5 + int(55 * i / max(len(residents), 1)), f"Chart: {resident.full_name}"
            )
            charts.append(mar_chart(resident=resident, start=kit.start, days=kit.days))
        jobs.build_progress(kit, 62, "CD register pages")
        cd_pages = _cd_pages(residents)
        jobs.build_progress(kit, 70, "Drawing the PDF")
        printed_at = home.local_now()
        pdf = render_pdf_parts(
            [
                (PRINT_TEMPLATE, print_context(charts, home, kit.title, kit.days)),
                (
                    CD_TEMPLATE,
                    {"home": home, "unit": unit, "pages": cd_pages, "printed_at": printed_at},
                ),
            ]
        )
    except Exception as e:
        jobs.build_fail(kit, str(e))
        raise
    return jobs.build_finish(
        build=kit,
        content=pdf,
        suffix=".pdf",
        charts=len(charts),
        cd_pages=len(cd_pages),
        step="Ready",
    )


def downtime_kit_latest(*, unit: Unit) -> DowntimeKit | None:
    """The unit's newest ready kit (what the "Downtime MAR" link serves)."""
    return (
        DowntimeKit.objects.filter(unit=unit, status=KitStatus.READY)
        .select_related("home", "unit")
        .order_by("-finished_at", "-pk")
        .first()
    )


# --- Paper rounds and their back-entry (R-OFF-4) ---------------------------------------------


class PaperRoundError(DomainError):
    """A paper round could not be started or ended; `code` is stable."""


def _require_manager(by: User, unit: Unit) -> None:
    if not permissions.has_perm(by, Perm.RUN_PAPER_ROUND, unit.home):
        raise PaperRoundError(
            "Only a manager of this home can switch a unit to paper and back.",
            code="not_allowed",
        )


def _paper_scope(**kwargs) -> dict:
    return {"unit": kwargs["unit"]}


@idempotent(PaperRound, scope=_paper_scope)
def paper_round_start(
    *,
    unit: Unit,
    by: User,
    reason: str,
    now: dt.datetime | None = None,
    idempotency_key=None,
) -> PaperRound:
    """Switch a unit to a paper round: the round screen says so, staff give from the downtime
    MAR, and the doses are back-entered later. One open paper round per unit (database)."""
    _require_manager(by, unit)
    reason = reason.strip()
    if not reason:
        raise PaperRoundError("Say why the unit goes on paper.", code="reason_required")
    if open_round := PaperRound.objects.filter(unit=unit, ended_at__isnull=True).first():
        raise PaperRoundError(
            f"{unit.name} has been on a paper round since "
            f"{open_round.started_at.astimezone(unit.home.tz):%-d %b %Y %H:%M}.",
            code="already_on_paper",
        )
    paper = PaperRound.objects.create(
        home=unit.home,
        unit=unit,
        reason=reason[:300],
        started_at=now or timezone.now(),
        started_by=by,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=unit.home,
        actor=by,
        action="paper_round.started",
        obj=paper,
        after={"unit": unit.name, "reason": paper.reason},
    )
    return paper


@transaction.atomic
def paper_round_end(
    *, paper_round: PaperRound, by: User, now: dt.datetime | None = None
) -> PaperRound:
    """Switch the unit back to the screen. Ending it twice (a double tap) changes nothing."""
    paper = (
        PaperRound.objects.select_for_update().select_related("unit__home").get(pk=paper_round.pk)
    )
    _require_manager(by, paper.unit)
    if paper.ended_at is not None:
        return paper
    paper.ended_at, paper.ended_by = max(now or timezone.now(), paper.started_at), by
    paper.save(update_fields=["ended_at", "ended_by"])
    audit_append(
        home=paper.home,
        actor=by,
        action="paper_round.ended",
        obj=paper,
        before={"ended_at": None},
        after={"unit": paper.unit.name, "ended_at": paper.ended_at},
    )
    return paper
