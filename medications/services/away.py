"""Residents away and back (R-RES-6, H-16): their due doses recorded H or L by the background
job, and their lines restarted one by one by a senior after the return or a readmission.

Exactly once: each away record has an idempotency key derived from its dose, and the
database's one-outcome-per-dose rule refuses a second outcome, so a job that runs twice, on two
workers, or again after a crash records nothing twice (R-MAR-5, R-ALR-5).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from emar import permissions
from emar.models import CodeCategory, NonAdministrationCode, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append
from residents.models import Absence, Reconciliation, Resident

from ..models import (
    Administration,
    LineRestart,
    LineStatus,
    Outcome,
    PrescriptionLine,
    RestartDecision,
    ScheduledDose,
)
from .mar import doses_sync
from .prescriptions import line_stop

log = logging.getLogger(__name__)

__all__ = [
    "away_doses_record",
    "line_restart_confirm",
    "lines_held",
]

# A returned absence is still swept for this long, so doses due just before the return that
# the job had not reached yet are recorded too.
RETURNED_LOOKBACK = dt.timedelta(days=2)
_KEY_NAMESPACE = uuid.UUID("6f1c3a52-3b7e-4f0e-9a55-5a3c1f0d7e16")


def away_key(dose_id: int) -> uuid.UUID:
    """The one idempotency key of the away record of a dose (R-MAR-5)."""
    return uuid.uuid5(_KEY_NAMESPACE, f"away-dose:{dose_id}")


def _code(home_id: int, letter: str) -> NonAdministrationCode | None:
    """The home's code for this absence: its own H or L, else its first active "absent" code
    (the set is configurable, R-MAR-6)."""
    codes = NonAdministrationCode.objects.filter(home_id=home_id, category=CodeCategory.ABSENT)
    return codes.filter(code=letter).first() or codes.filter(active=True).order_by("code").first()


def _absence_doses(absence: Absence, now: dt.datetime):
    """Open doses of the absent resident whose window has opened, due while they were away."""
    recorded = Administration.objects.filter(
        dose_id=OuterRef("pk"), final=True, corrected_by__isnull=True
    )
    qs = ScheduledDose.objects.filter(
        resident_id=absence.resident_id,
        cancelled_at__isnull=True,
        self_administered=False,
        due_at__gte=absence.started_at,
        window_opens__lte=now,
    )
    if absence.returned_at is not None:
        qs = qs.filter(due_at__lt=absence.returned_at)
    return (
        qs.annotate(recorded=Exists(recorded))
        .filter(recorded=False)
        .select_related("line", "home")
        .order_by("due_at", "pk")
    )


def _record(dose: ScheduledDose, absence: Absence, code: NonAdministrationCode, now) -> bool:
    """One H/L record and its audit entry, or nothing if the dose already has its outcome."""
    local = absence.started_at.astimezone(dose.home.tz)
    record = Administration(
        home_id=dose.home_id,
        resident_id=dose.resident_id,
        line_id=dose.line_id,
        dose=dose,
        outcome=Outcome.NOT_GIVEN,
        code=code,
        administered_at=min(dose.due_at, now),
        recorded_at=now,
        recorded_by_id=absence.started_by_id,
        note=(
            f"Recorded automatically: {absence.get_kind_display().lower()} since "
            f"{local.day} {local:%b %Y %H:%M} (R-RES-6)."
        ),
        idempotency_key=away_key(dose.pk),
    )
    try:
        with transaction.atomic():
            record.save()
            audit_append(
                home=dose.home,
                actor=absence.started_by,
                action="mar.dose.away",
                record=record,
                after={
                    "dose": dose.pk,
                    "code": code.code,
                    "absence": absence.pk,
                    "administered_at": record.administered_at,
                },
            )
    except IntegrityError:
        return False  # already recorded, by a carer or another run of this job
    return True


def away_doses_record(*, now: dt.datetime | None = None, resident: Resident | None = None) -> int:
    """Record H (hospital) or L (leave, respite) for every open dose of an absent resident whose
    window has opened (R-RES-6, R-MAR-14). Absences still open, and those that ended in the
    last two days, are swept. Returns how many records were written by this call; a re-run
    writes none (H-16)."""
    now = now or timezone.now()
    absences = Absence.objects.filter(
        Q(returned_at__isnull=True) | Q(returned_at__gt=now - RETURNED_LOOKBACK),
        started_at__lte=now,
    ).select_related("started_by", "resident")
    if resident is not None:
        absences = absences.filter(resident=resident)
    written = 0
    for absence in absences.order_by("pk"):
        doses = list(_absence_doses(absence, now))
        if not doses:
            continue
        code = _code(absence.resident.home_id, absence.code)
        if code is None:
            log.error("home %s has no absence code: away doses not recorded", absence.resident)
            continue
        for dose in doses:
            written += _record(dose, absence, code, now)
    return written


def _resync(home) -> None:
    def sync() -> None:
        today = home.local_today()
        doses_sync(home=home, start=today - dt.timedelta(days=1), end=today + dt.timedelta(days=1))

    transaction.on_commit(sync)


def absence_changed(*, absence: Absence, by: User) -> None:
    """Registered with residents: on leaving, the doses already open are coded at once (the
    job does the rest); on return, today's doses are brought in line (held lines leave the
    round)."""
    home = absence.resident.home
    if absence.returned_at is None:
        away_doses_record(resident=absence.resident)
    _resync(home)


def resident_readmitted(*, resident: Resident, by: User) -> None:
    _resync(resident.home)


def lines_held(resident: Resident) -> list[tuple[PrescriptionLine, Reconciliation]]:
    """The resident's live lines held after a return or readmission, with the reconciliation
    that holds each, for the senior to confirm (R-RES-6)."""
    recs = list(
        Reconciliation.objects.filter(resident=resident, lines_held_from__isnull=False).order_by(
            "-lines_held_from", "-pk"
        )
    )
    if not recs:
        return []
    result = []
    lines = (
        PrescriptionLine.objects.filter(resident=resident, status=LineStatus.ACTIVE)
        .select_related("medicine")
        .prefetch_related("restarts")
        .order_by("medicine__name", "pk")
    )
    for line in lines:
        rec = next(
            (
                r
                for r in recs
                if r.lines_held_from is not None and r.lines_held_from > line.entered_at
            ),
            None,
        )
        if rec is None or line.stops_before(timezone.now()):
            continue
        if any(r.reconciliation_id == rec.pk for r in line.restarts.all()):
            continue
        result.append((line, rec))
    return result


@transaction.atomic
def line_restart_confirm(
    *,
    line: PrescriptionLine,
    by: User,
    decision: str,
    note: str = "",
    authorised_by: str = "",
) -> LineRestart:
    """A senior confirms one held line after a return or readmission (R-RES-6, H-16):
    unchanged restarts it from now; changed or stopped stops it now (a changed dose is entered
    as a new line, checked by a second senior, R-RX-4; its supply follows it, R-STK-8)."""
    line = PrescriptionLine.objects.select_for_update().select_related("resident").get(pk=line.pk)
    if not permissions.has_perm(by, Perm.CHECK_PRESCRIPTION, line.home_id):
        raise DomainError("Only a senior can confirm a line after a return.", code="not_permitted")
    held = dict((held_line.pk, rec) for held_line, rec in lines_held(line.resident))
    rec = held.get(line.pk)
    if rec is None:
        raise DomainError(
            f"{line.medicine.name} is not waiting for a confirmation.", code="not_held"
        )
    if decision not in RestartDecision.values:
        raise DomainError("Choose unchanged, changed or stopped.", code="bad_decision")
    note = " ".join((note or "").split())
    if decision != RestartDecision.UNCHANGED:
        if not note:
            raise DomainError(
                "Say what changed (e.g. 'dose reduced on the discharge letter').",
                code="note_required",
            )
        line_stop(
            line=line,
            by=by,
            reason=f"After return ({rec.get_reason_display().lower()}): {note}",
            authorised_by=authorised_by or "Discharge letter / reconciliation",
        )
    restart = LineRestart.objects.create(
        reconciliation=rec, line=line, decision=decision, note=note[:300], confirmed_by=by
    )
    audit_append(
        home=line.home_id,
        actor=by,
        action="prescription.restart_confirmed",
        obj=restart,
        after={"line": line.pk, "decision": decision, "note": note, "reconciliation": rec.pk},
    )
    _resync(line.home)
    return restart
