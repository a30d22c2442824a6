"""Reads of the resident record, narrowed to one home (scoping happens in the view with
`permissions.requires` / `scoped_get`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypedDict, TypeVar

from django.db.models import Max, Prefetch, QuerySet

from emar.models import CareHome, Unit

from .models import (
    Allergy,
    Discrepancy,
    Reconciliation,
    Resident,
    ResidentStatus,
    UnitMove,
    room_order,
    years_before,
)


class _ListedAttrs(TypedDict):
    """What `residents_of` adds to each resident."""

    last_review: dt.date | None  # the latest review's date (Max of the reviews)
    active_allergies: list[Allergy]  # not removed, by substance


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    ListedResident = WithAnnotations[Resident, _ListedAttrs]

_R = TypeVar("_R", bound=Resident)


def _active_allergies() -> Prefetch[
    Literal["allergies"], QuerySet[Allergy], Literal["active_allergies"]
]:
    return Prefetch(
        "allergies",
        queryset=Allergy.objects.filter(removed_at__isnull=True).order_by("substance"),
        to_attr="active_allergies",
    )


def residents_of(
    home: CareHome, *, unit: Unit | None = None, current: bool = True
) -> list[ListedResident]:
    """Residents by unit in room order ("2" before "10", "A1" after both) with their
    allergies and last review date (three queries)."""
    qs = Resident.objects.filter(home=home)
    if current:
        qs = qs.filter(status=ResidentStatus.RESIDENT)
    else:
        qs = qs.exclude(status=ResidentStatus.RESIDENT)
    if unit is not None:
        qs = qs.filter(unit=unit)
    return in_room_order(
        qs.select_related("unit")
        .annotate(last_review=Max("reviews__held_on"))
        .prefetch_related(_active_allergies())
    )


def in_room_order(residents: Iterable[_R]) -> list[_R]:
    """Residents sorted by unit name, then room as on the doors, then name (the database's
    text order would put "10" before "2"; see `room_order`)."""
    return sorted(residents, key=lambda r: (r.unit.name, room_order(r.room), r.full_name))


def resident_record(resident: Resident) -> dict:
    """What the profile shows from the resident record."""
    today = resident.home.local_today()
    reviews = list(resident.reviews.select_related("recorded_by"))
    last = reviews[0].held_on if reviews else None
    allergies = list(
        resident.allergies.select_related("recorded_by", "removed_by").order_by(
            "removed_at", "substance"
        )
    )
    return {
        "allergies": allergies,
        "active_allergies": [a for a in allergies if a.removed_at is None],
        "moves": list(
            UnitMove.objects.filter(resident=resident).select_related(
                "from_unit", "to_unit", "moved_by"
            )
        ),
        "reconciliations": list(
            resident.reconciliations.select_related("started_by", "completed_by").prefetch_related(
                Prefetch(
                    "discrepancies",
                    queryset=Discrepancy.objects.select_related("recorded_by", "resolved_by"),
                )
            )
        ),
        "status_changes": list(
            resident.allergy_status_changes.select_related("changed_by").order_by(
                "-changed_at", "-pk"
            )[:20]
        ),
        "reviews": reviews,
        "documents": list(
            resident.documents.select_related(
                "uploaded_by", "withdrawal", "withdrawal__withdrawn_by"
            )
        ),
        "review_overdue": resident.is_current and resident.review_overdue(today, last),
        "last_review": last,
    }


def reviews_overdue(home: CareHome, today: dt.date) -> list[ListedResident]:
    """Current residents whose last review (or admission, with none) is over 12 months old."""
    return [r for r in residents_of(home) if r.review_overdue(today, r.last_review)]


@dataclass(frozen=True)
class ReconciliationRow:
    reconciliation: Reconciliation
    hours: float | None  # from the start of the arrival day to completion


def reconciliation_report(
    home: CareHome, *, since: dt.date | None = None
) -> list[ReconciliationRow]:
    """Time from admission (or return) to a reconciled list, per reconciliation (R-RES-3)."""
    since = since or years_before(home.local_today(), 1)
    qs = (
        Reconciliation.objects.filter(resident__home=home, arrived_on__gte=since)
        .select_related("resident", "completed_by", "started_by")
        .order_by("-arrived_on", "-pk")
    )
    rows = []
    for rec in qs:
        delta = rec.time_to_reconcile(home.tz)
        rows.append(
            ReconciliationRow(
                rec, round(delta.total_seconds() / 3600, 1) if delta is not None else None
            )
        )
    return rows


def allergies_recorded(resident: Resident) -> list[Allergy]:
    """The resident's allergies in force (unordered), read once per request: the recording
    service's allergy check (R-MAR-16) and the row it re-renders share one read (SPEC §11).
    A write to an allergy forgets it (residents' app signals)."""
    from emar.request_cache import memo

    return memo(
        ("allergies", resident.pk),
        lambda: list(resident.allergies.filter(removed_at__isnull=True)),
    )


def allergies_active(resident: Resident) -> list[Allergy]:
    """The allergies the banner shows on every recording screen (R-MAR-16)."""
    return list(resident.allergies.filter(removed_at__isnull=True).order_by("substance"))
