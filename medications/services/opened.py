"""Opened medicines: record a pack opened, its in-use expiry, and the reads that warn about it
(R-STK-7, H-15).

`supply_open` is the one way to record an opening (round screen, stock page, demo); the in-use
expiry is computed here, once, from the product's shelf life after opening
(`medications.shelf_life`) and the pack's own expiry, whichever comes first, and stored on the
record. A pack is finished or discarded by a new entry (`supply_end`). The round does not block
a dose of a product past its in-use expiry: it warns on the dose row and offers to record a new
pack opened, because refusing the dose would turn a dated bottle into a missed dose (H-3) when
the fix (a new pack) is at hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from emar import permissions
from emar.models import CareHome, Unit, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append, idempotent
from residents.models import ResidentStatus

from ..models import (
    LineStatus,
    MovementKind,
    OpenedEndKind,
    OpenedSupply,
    OpenedSupplyEnd,
    PrescriptionLine,
    Stock,
    StockMovement,
)
from ..shelf_life import ShelfLife, shelf_life

__all__ = [
    "OpenedError",
    "OpenedState",
    "opened_counts",
    "opened_expiring",
    "opened_states",
    "opened_undated",
    "supply_end",
    "supply_open",
    "supply_shelf_life",
]

EXPIRING_DAYS = 7  # R-STK-7: "a list shows what expires this week"
MAX_BACK_DAYS = 366


class OpenedError(DomainError):
    """An opening rule refused the action; `code` is stable (tests and views use it)."""


def supply_shelf_life(line: PrescriptionLine) -> ShelfLife | None:
    """The line's product's shelf life once opened, or None when its opening is not recorded
    (tablets, patches, single-dose units...)."""
    medicine = line.medicine
    return shelf_life(
        form=medicine.form,
        route=medicine.route or line.route,
        name=medicine.name,
        in_use_days=medicine.in_use_days,
        in_use_basis=medicine.in_use_basis,
    )


def _in_use_expiry(
    opened_on: dt.date, days: int | None, pack_expiry: dt.date | None
) -> dt.date | None:
    """The last day of use: `days` counted from the day of opening (opened on the 1st, 28 days:
    used up to the 28th, discarded on the 29th), or the pack's own expiry if sooner."""
    candidates = [d for d in (pack_expiry,) if d is not None]
    if days:
        candidates.append(opened_on + dt.timedelta(days=days - 1))
    return min(candidates) if candidates else None


def _last_receipt(line: PrescriptionLine) -> StockMovement | None:
    return (
        StockMovement.objects.filter(
            line=line, kind__in=[MovementKind.RECEIVED, MovementKind.CARRIED_FORWARD]
        )
        .exclude(batch="", expiry__isnull=True)
        .order_by("-seq")
        .first()
    )


def _opening_scope(line, **_):
    return {"line_id": line.pk}


@idempotent(OpenedSupply, scope=_opening_scope)
@transaction.atomic
def supply_open(
    *,
    line: PrescriptionLine,
    by: User,
    opened_at: dt.datetime | None = None,
    batch: str = "",
    pack_expiry: dt.date | None = None,
    note: str = "",
    idempotency_key: UUID | None = None,
) -> OpenedSupply:
    """Record a pack of a resident's line opened, with its in-use expiry (R-STK-7, H-15).

    Only products whose opening matters (liquids, creams, ointments, gels, eye, ear and nose
    drops, inhalers) and only from stock the home holds: a line with nothing on its ledger has
    no pack to open (book the supply in first). The batch and pack expiry default to the last
    delivery's. Nothing is written when a rule refuses.
    """
    home = line.home
    if not permissions.has_perm(by, Perm.RECORD_DOSE, home):
        raise OpenedError("Your role cannot record medicines in this home.", code="not_allowed")
    life = supply_shelf_life(line)
    if life is None:
        raise OpenedError(
            f"{line.medicine.name} is not a product whose opening is recorded (liquids, creams, "
            "drops and inhalers are).",
            code="not_tracked",
        )
    if line.status != LineStatus.ACTIVE or line.stopped_at is not None:
        raise OpenedError("This line is not live: nothing to open.", code="line_not_live")
    now = timezone.now()
    opened_at = opened_at or now
    if opened_at > now + dt.timedelta(minutes=1):
        raise OpenedError("The date opened cannot be in the future.", code="future_time")
    if opened_at < now - dt.timedelta(days=MAX_BACK_DAYS):
        raise OpenedError("The date opened is more than a year ago.", code="too_old")
    opened_on = opened_at.astimezone(home.tz).date()
    # Locked as every stock writer does, so the balance read is the one a dose would see.
    PrescriptionLine.objects.select_for_update().filter(pk=line.pk).values_list("pk").first()
    stock = Stock.objects.filter(line_id=line.pk).first()
    if stock is None or stock.balance <= 0:
        raise OpenedError(
            f"There is no stock of {line.medicine.name} for this resident on the ledger: book "
            "the supply in before recording it opened.",
            code="no_stock",
        )
    batch = batch.strip()
    if not batch and pack_expiry is None and (receipt := _last_receipt(line)):
        batch, pack_expiry = receipt.batch, receipt.expiry
    if pack_expiry is not None and pack_expiry < opened_on:
        raise OpenedError(
            "This pack was past its expiry date when opened: do not use it.", code="pack_expired"
        )
    opening = OpenedSupply.objects.create(
        home=home,
        resident_id=line.resident_id,
        line=line,
        opened_at=opened_at,
        opened_on=opened_on,
        opened_by=by,
        recorded_at=now,
        in_use_days=life.days,
        in_use_expiry=_in_use_expiry(opened_on, life.days, pack_expiry),
        shelf_life_basis=life.basis[:300],
        batch=batch[:60],
        pack_expiry=pack_expiry,
        note=note.strip()[:500],
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=home,
        actor=by,
        action="stock.opened",
        record=opening,
        after={
            "line": line.pk,
            "opened_on": opening.opened_on,
            "in_use_expiry": opening.in_use_expiry,
            "in_use_days": opening.in_use_days,
            "batch": opening.batch,
        },
    )
    return opening


@idempotent(OpenedSupplyEnd, scope=lambda opening, **_: {"opening_id": opening.pk})
@transaction.atomic
def supply_end(
    *,
    opening: OpenedSupply,
    by: User,
    kind: str,
    note: str = "",
    at: dt.datetime | None = None,
    idempotency_key: UUID | None = None,
) -> OpenedSupplyEnd:
    """An opened pack finished or discarded: a new entry; the opening is never changed. The
    database allows one end per opening."""
    if not permissions.has_perm(by, Perm.RECORD_DOSE, opening.home_id):
        raise OpenedError("Your role cannot record medicines in this home.", code="not_allowed")
    if kind not in OpenedEndKind.values:
        raise OpenedError("Choose finished or discarded.", code="bad_kind")
    now = timezone.now()
    at = at or now
    if at > now + dt.timedelta(minutes=1):
        raise OpenedError("The date cannot be in the future.", code="future_time")
    if at < opening.opened_at:
        raise OpenedError("A pack cannot end before it was opened.", code="before_opening")
    if OpenedSupplyEnd.objects.filter(opening=opening).exists():
        raise OpenedError("This pack is already recorded as finished or discarded.", code="ended")
    end = OpenedSupplyEnd.objects.create(
        opening=opening,
        home_id=opening.home_id,
        kind=kind,
        at=at,
        by=by,
        recorded_at=now,
        note=note.strip()[:500],
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=opening.home_id,
        actor=by,
        action=f"stock.opened_{kind}",
        record=end,
        after={"opening": opening.pk, "line": opening.line_id},
    )
    return end


# --- reads ---------------------------------------------------------------------------------------


@dataclass
class OpenedState:
    """What the round shows about a line's opened pack (R-STK-7): tracked lines only."""

    life: ShelfLife
    opening: OpenedSupply | None  # the pack in use: the newest opening that has not ended
    today: dt.date

    @property
    def expired(self) -> bool:
        return self.opening is not None and self.opening.expired_on(self.today)

    @property
    def days_left(self) -> int | None:
        return self.opening.days_left(self.today) if self.opening else None

    @property
    def expiring_soon(self) -> bool:
        left = self.days_left
        return left is not None and 0 <= left < EXPIRING_DAYS

    @property
    def needs_opening(self) -> bool:
        return self.opening is None


def _current(line_ids: list[int]) -> dict[int, OpenedSupply]:
    """The pack in use of each line: its newest opening with no end (one query)."""
    found: dict[int, OpenedSupply] = {}
    for opening in (
        OpenedSupply.objects.filter(line_id__in=line_ids, end__isnull=True)
        .select_related("opened_by")
        .order_by("line_id", "-opened_at", "-pk")
    ):
        found.setdefault(opening.line_id, opening)
    return found


def opened_states(
    *, lines: list[PrescriptionLine], today: dt.date
) -> dict[int, OpenedState | None]:
    """Each line's opened state (None: its opening is not recorded), in one query."""
    lives = {line.pk: supply_shelf_life(line) for line in lines}
    tracked = [pk for pk, life in lives.items() if life is not None]
    current = _current(tracked) if tracked else {}
    return {
        pk: (OpenedState(life, current.get(pk), today) if life is not None else None)
        for pk, life in lives.items()
    }


def _live_lines(home: CareHome, day: dt.date, unit: Unit | None = None):
    lines = PrescriptionLine.objects.filter(
        home=home,
        status=LineStatus.ACTIVE,
        resident__status=ResidentStatus.RESIDENT,
        start_date__lte=day,
    ).filter(Q(stopped_at__isnull=True) & (Q(end_date__isnull=True) | Q(end_date__gte=day)))
    if unit is not None:
        lines = lines.filter(resident__unit=unit)
    return lines


def opened_expiring(
    *, home: CareHome, today: dt.date, unit: Unit | None = None, days: int = EXPIRING_DAYS
) -> list[OpenedSupply]:
    """Packs in use on live lines whose in-use expiry is past or within `days` (R-STK-7),
    soonest first. Two queries whatever the number of lines."""
    until = today + dt.timedelta(days=days - 1)
    line_ids = list(_live_lines(home, today, unit).values_list("pk", flat=True))
    current = _current(line_ids)
    ids = [o.pk for o in current.values() if o.in_use_expiry and o.in_use_expiry <= until]
    return list(
        OpenedSupply.objects.filter(pk__in=ids)
        .select_related("line", "line__medicine", "resident", "resident__unit", "opened_by")
        .order_by("in_use_expiry", "resident__full_name", "pk")
    )


def opened_undated(
    *, home: CareHome, today: dt.date, unit: Unit | None = None
) -> list[PrescriptionLine]:
    """Live lines of a product whose opening is recorded, with no pack in use recorded."""
    lines = list(
        _live_lines(home, today, unit)
        .select_related("medicine", "resident", "resident__unit")
        .order_by("resident__full_name", "medicine__name", "pk")
    )
    tracked = [ln for ln in lines if supply_shelf_life(ln) is not None]
    current = _current([ln.pk for ln in tracked])
    return [ln for ln in tracked if ln.pk not in current]


def opened_counts(*, home: CareHome, day: dt.date) -> dict[str, int]:
    """For the monthly audit (R-AUD-1, R-STK-7), as at `day`: live lines of a product whose
    opening is recorded, those with an opening date, those without, and those past their
    in-use expiry. Two queries."""
    lines = list(_live_lines(home, day).select_related("medicine"))
    tracked = [ln.pk for ln in lines if supply_shelf_life(ln) is not None]
    # The pack in use on that day: opened by then, not ended by then.
    found: dict[int, OpenedSupply] = {}
    for opening in (
        OpenedSupply.objects.filter(line_id__in=tracked, opened_on__lte=day)
        .exclude(end__at__date__lte=day)
        .order_by("line_id", "-opened_at", "-pk")
    ):
        found.setdefault(opening.line_id, opening)
    return {
        "tracked": len(tracked),
        "with_date": len(found),
        "without_date": len(tracked) - len(found),
        "past_expiry": sum(1 for o in found.values() if o.expired_on(day)),
    }
