"""MAR services: keeping scheduled doses in step with prescriptions, and recording doses
(R-MAR-1..13)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from emar import permissions
from emar import selectors as core_selectors
from emar.models import CareHome, CodeCategory, NonAdministrationCode, Round, Unit, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append, notify
from residents.models import ResidentStatus
from training.services import gate_administration, gate_administration_all, gate_witness

from .. import selectors
from ..models import (
    BODY_SITES,
    Administration,
    DoseUnit,
    Effectiveness,
    HomelyRemedy,
    HomelyRemedyDose,
    LineStatus,
    Outcome,
    PrescriptionLine,
    PrnFollowUp,
    PrnProtocol,
    Route,
    ScheduledDose,
)
from .prescriptions import has_covert_plan
from .stock import stock_on_administration, stock_on_correction

__all__ = [
    "DoseError",
    "SyncResult",
    "administration_correct",
    "administration_record",
    "doses_projected",
    "doses_sync",
    "doses_sync_for_read",
    "homely_remedy_give",
    "is_patch",
    "last_sites",
    "nearest_round",
    "needs_site",
    "next_site",
    "patch_site_suggestion",
    "prn_follow_up_record",
    "round_for",
    "sync_window",
]


@dataclass(frozen=True)
class SyncResult:
    created: int
    cancelled: int
    restored: int
    updated: int


def nearest_round(local_time: dt.time, rounds: list[Round]) -> Round | None:
    """The round a dose belongs to on the round screen: the nearest round time around the
    clock (earlier wins a tie), so a 01:30 dose goes with the 22:00 night round."""
    return round_for(local_time, rounds)[0]


def round_for(local_time: dt.time, rounds: list[Round]) -> tuple[Round | None, int]:
    """(the nearest round around the clock, the day offset of that round's session): -1 when
    the dose is after midnight but belongs to the evening before, +1 when it is late in the
    evening but belongs to the next morning's round."""
    if not rounds:
        return None, 0
    minutes = local_time.hour * 60 + local_time.minute
    day = 24 * 60

    def distance(r: Round) -> tuple[int, dt.time]:
        diff = abs(r.time.hour * 60 + r.time.minute - minutes)
        return min(diff, day - diff), r.time

    best = min(rounds, key=distance)
    diff = best.time.hour * 60 + best.time.minute - minutes
    if diff > day // 2:
        return best, -1
    if diff < -(day // 2):
        return best, 1
    return best, 0


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


def sync_window(home: CareHome, now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """Local yesterday..tomorrow: the days the beat job keeps materialised and the reminder
    sweep works from (R-ALR-1)."""
    today = (now or timezone.now()).astimezone(home.tz).date()
    return today - dt.timedelta(days=1), today + dt.timedelta(days=1)


def doses_sync_for_read(
    *,
    home: CareHome,
    start: dt.date,
    end: dt.date,
    unit: Unit | None = None,
    now: dt.datetime | None = None,
) -> SyncResult | None:
    """`doses_sync` for a page or a print (a read): only the days of `start`..`end` inside
    `sync_window` are brought in line, whatever period was asked for, so a read never writes
    beyond what the reminders need (R-SEC-1). Later days are drawn from `doses_projected`."""
    first, last = sync_window(home, now)
    lo, hi = max(start, first), min(end, last)
    if lo > hi:
        return None
    return doses_sync(home=home, start=lo, end=hi, unit=unit, now=now)


def doses_projected(
    *, home: CareHome, start: dt.date, end: dt.date, resident=None, unit: Unit | None = None
) -> list[ScheduledDose]:
    """The doses the prescriptions schedule for `start`..`end`, as unsaved rows that are never
    written: what a chart or the downtime MAR shows for days after `sync_window` (H-10)."""
    rounds = list(Round.objects.filter(home=home))
    return [
        ScheduledDose(**_fields(d, home, rounds))
        for d in selectors.doses_due(home=home, start=start, end=end, unit=unit, resident=resident)
        if not (
            d.line.checked_at
            and d.at + dt.timedelta(minutes=d.tolerance_minutes) < d.line.checked_at
        )
    ]


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
    "round_date",
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
    round_, offset = round_for(d.local_time, rounds)
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
        "round_date": d.local_date + dt.timedelta(days=offset),
        "label": d.label[:60],
        "dose": d.dose,
        "dose_text": d.dose_text[:120],
        "needs_dose_entry": d.needs_dose_entry,
        "time_sensitive": d.time_sensitive,
        "self_administered": d.self_administered,
        "covert": d.covert,
    }


# --- Recording doses (R-MAR-2..13) -------------------------------------------------------------


class DoseError(DomainError):
    """A clinical rule refused the record; `code` is stable (tests and the API use it)."""


SITE_ROUTES = (Route.TRANSDERMAL, Route.TOPICAL)
REFUSALS_IN_A_ROW = 3  # R-MAR-7


def _needs_site(line: PrescriptionLine) -> bool:
    return line.route in SITE_ROUTES or line.dose_unit == DoseUnit.PATCH


def _is_patch(line: PrescriptionLine) -> bool:
    return line.route == Route.TRANSDERMAL or line.dose_unit == DoseUnit.PATCH


def _effective(qs):
    """Records that are not superseded by a correction."""
    return qs.filter(corrected_by__isnull=True)


def next_site(last: str | None) -> str:
    """A different site from the last one, going round the list (R-MAR-10)."""
    if last not in BODY_SITES:
        return BODY_SITES[0]
    return BODY_SITES[(BODY_SITES.index(last) + 1) % len(BODY_SITES)]


def last_sites(lines: list[int]) -> dict[int, str]:
    """Where each line's last patch or application went (one query for many lines)."""
    rows = (
        _effective(Administration.objects.filter(line_id__in=lines, outcome=Outcome.GIVEN))
        .exclude(body_site="")
        .order_by("line_id", "-administered_at", "-pk")
        .values_list("line_id", "body_site")
    )
    result: dict[int, str] = {}
    for line_id, site in rows:
        result.setdefault(line_id, site)
    return result


def patch_site_suggestion(line: PrescriptionLine) -> tuple[str | None, str]:
    """(where the last patch or application went, a different site to use next) (R-MAR-10)."""
    last = last_sites([line.pk]).get(line.pk)
    return last, next_site(last)


def needs_site(line: PrescriptionLine) -> bool:
    return _needs_site(line)


def is_patch(line: PrescriptionLine) -> bool:
    return _is_patch(line)


def _check_time(*, home: CareHome, at: dt.datetime, now: dt.datetime) -> None:
    """R-MAR-3: a record may say it was given earlier the same day, never in the future."""
    if at > now + dt.timedelta(minutes=1):
        raise DoseError("The time given cannot be in the future.", code="future_time")
    if at.astimezone(home.tz).date() != now.astimezone(home.tz).date():
        raise DoseError(
            "A dose can only be recorded for today. For an earlier day, ask a senior to add a "
            "correction with the reason.",
            code="not_same_day",
        )


def _check_witness(
    *, line: PrescriptionLine, home: CareHome, by: User, witness: User | None, at: dt.datetime
) -> None:
    """R-MAR-9: a register CD needs a second, different member of staff who passes the CD
    competency gate. The view confirms the witness's own password before calling this."""
    if not line.needs_witness:
        return
    if witness is None:
        raise DoseError(
            "This is a controlled drug: a second member of staff must witness it and confirm "
            "with their own password.",
            code="witness_required",
        )
    if witness.pk == by.pk:
        raise DoseError("The witness must be a different person.", code="witness_same_person")
    if not permissions.has_perm(witness, Perm.WITNESS_CD, home):
        raise DoseError(f"{witness} is not staff of this home.", code="witness_not_staff")
    gate_witness(person=witness, home=home, at=at)


def _check_prn(
    *,
    line: PrescriptionLine,
    home: CareHome,
    at: dt.datetime,
    prn_reason: str,
    override_by: User | None,
    override_reason: str,
) -> None:
    """R-MAR-8: a reason; the minimum interval and the rolling 24-hour maximum, unless a
    senior overrides with a reason. The caller holds a lock on the line."""
    if not prn_reason.strip():
        raise DoseError("Say why this PRN dose is needed.", code="prn_reason_required")
    protocol = PrnProtocol.objects.filter(line=line).order_by("-written_at", "-pk").first()
    if protocol is None:
        raise DoseError(
            "This PRN medicine has no protocol yet, so it cannot be given (R-RX-6).",
            code="prn_protocol_required",
        )
    given = _effective(
        Administration.objects.filter(line=line, outcome=Outcome.GIVEN, administered_at__lte=at)
    )
    overriding = override_by is not None
    if overriding:
        if not permissions.has_perm(override_by, Perm.CHECK_PRESCRIPTION, home):
            raise DoseError("Only a senior can override a PRN limit.", code="override_not_senior")
        if not override_reason.strip():
            raise DoseError("Give the reason for the override.", code="override_reason_required")
    last = given.order_by("-administered_at").values_list("administered_at", flat=True).first()
    interval = dt.timedelta(minutes=protocol.min_interval_minutes)
    if last is not None and at - last < interval and not overriding:
        wait = last + interval
        raise DoseError(
            f"Too soon: the last dose was at {last.astimezone(home.tz):%H:%M}; the protocol "
            f"allows the next from {wait.astimezone(home.tz):%H:%M}. A senior can override "
            "with a reason.",
            code="prn_interval",
        )
    in_24h = given.filter(administered_at__gt=at - dt.timedelta(hours=24)).count()
    if in_24h >= protocol.max_doses_24h and not overriding:
        raise DoseError(
            f"The maximum of {protocol.max_doses_24h} doses in 24 hours has been reached. A "
            "senior can override with a reason.",
            code="prn_max_24h",
        )


def _check_given(
    *,
    line: PrescriptionLine,
    dose: ScheduledDose | None,
    home: CareHome,
    by: User,
    quantity: Decimal | None,
    covert: bool,
    witness: User | None,
    body_site: str,
    old_patch_removed: bool | None,
    at: dt.datetime,
) -> Decimal:
    if dose is not None and dose.needs_dose_entry:
        raise DoseError(
            "Today's dose has not been entered yet (variable dose): ask the senior on shift.",
            code="dose_not_entered",
        )
    if quantity is None:
        quantity = dose.dose if dose is not None and dose.dose is not None else None
        if quantity is None and line.dose_max is None:
            quantity = line.dose
    if quantity is None:
        raise DoseError(f"Enter how much was given ({line.dose_text}).", code="quantity_required")
    if quantity <= 0:
        raise DoseError("The quantity must be more than zero.", code="quantity_not_positive")
    if line.dose_max is not None and not (line.dose <= quantity <= line.dose_max):
        raise DoseError(f"The prescribed dose is {line.dose_text}.", code="quantity_out_of_range")
    if covert and not has_covert_plan(line):
        raise DoseError(
            "Covert administration needs the covert plan attached to this line (R-RX-8).",
            code="covert_plan_required",
        )
    gate_administration_all(
        person=by, home=home, categories=line.competency_categories(covert=covert), at=at
    )
    _check_witness(line=line, home=home, by=by, witness=witness, at=at)
    if _needs_site(line):
        if body_site not in BODY_SITES and not (line.route == Route.TOPICAL and body_site):
            raise DoseError("Record where it was applied.", code="body_site_required")
        last_site, _ = patch_site_suggestion(line)
        if _is_patch(line) and last_site is not None and old_patch_removed is not True:
            raise DoseError(
                f"Confirm the old patch ({last_site}) was removed.",
                code="old_patch_not_confirmed",
            )
    return quantity


def _check_not_given(*, home: CareHome, code: NonAdministrationCode | None, note: str) -> None:
    if code is None or code.home_id != home.pk or not code.active:
        raise DoseError("Choose a reason code from the list.", code="code_required")
    if code.note_required and not note.strip():
        raise DoseError(f"Code {code.code} ({code.label}) needs a note.", code="note_required")


def _existing_for_key(key: UUID, *, line: PrescriptionLine) -> Administration | None:
    found = Administration.objects.select_related("recorded_by").filter(idempotency_key=key).first()
    if found is not None and found.line_id != line.pk:
        raise DoseError("This form was already used for another dose.", code="key_reused")
    return found


def _already_recorded(dose: ScheduledDose) -> DoseError:
    first = (
        Administration.objects.select_related("recorded_by")
        .filter(dose=dose, final=True, corrects__isnull=True)
        .first()
    )
    who = (
        f"{first.recorded_by} at {first.recorded_at.astimezone(dose.home.tz):%H:%M}"
        if first
        else "someone"
    )
    return DoseError(
        f"Already recorded by {who}: {first.get_outcome_display().lower() if first else ''}.",
        code="already_recorded",
    )


@transaction.atomic
def administration_record(
    *,
    by: User,
    idempotency_key: UUID,
    outcome: str,
    dose: ScheduledDose | None = None,
    line: PrescriptionLine | None = None,
    code: NonAdministrationCode | None = None,
    quantity: Decimal | None = None,
    administered_at: dt.datetime | None = None,
    note: str = "",
    late_reason: str = "",
    witness: User | None = None,
    prn_reason: str = "",
    prn_override_by: User | None = None,
    prn_override_reason: str = "",
    body_site: str = "",
    old_patch_removed: bool | None = None,
    covert: bool = False,
) -> Administration:
    """Record one outcome for a scheduled dose, or a PRN dose for a line (R-MAR-2..13).

    The same idempotency key again returns the first record (a double tap, a retry after a
    dropped connection). A second outcome for the same dose is refused by the database's
    unique rule, not by a check-then-insert, and the error says who recorded it and when
    (R-MAR-5). Every rule is checked here, for every path (round screen, resident page, API).
    """
    if dose is not None:
        line = dose.line
    if line is None:
        raise DoseError("Which dose?", code="no_dose")
    if existing := _existing_for_key(idempotency_key, line=line):
        return existing
    home = dose.home if dose is not None else line.home
    if not permissions.has_perm(by, Perm.RECORD_DOSE, home):
        raise DoseError("Your role cannot record doses in this home.", code="not_allowed")
    # Serialise records of one line: PRN limits and the refusal count read what went before.
    line = (
        PrescriptionLine.objects.select_for_update()
        .select_related("medicine", "resident")
        .get(pk=line.pk)
    )
    line.home = home  # already loaded; saves a query on the hot path
    now = timezone.now()
    at = administered_at or now
    _check_time(home=home, at=at, now=now)
    if line.resident.status != ResidentStatus.RESIDENT:
        raise DoseError("This resident no longer lives here.", code="resident_left")
    if line.status == LineStatus.AWAITING_CHECK or line.stops_before(at):
        raise DoseError("This line is not live (awaiting check or stopped).", code="line_not_live")
    if outcome not in Outcome.values:
        raise DoseError("Choose given or not given.", code="bad_outcome")
    if dose is None and not line.is_prn:
        raise DoseError("A regular dose is recorded against its scheduled time.", code="no_dose")
    if dose is not None and dose.cancelled_at is not None:
        raise DoseError(
            "This dose is no longer due (the prescription changed).", code="dose_cancelled"
        )
    late = dose is not None and now > dose.window_closes
    if late and not late_reason.strip():
        raise DoseError(
            "This is a late entry: the dose window has closed. Say why it is recorded late.",
            code="late_reason_required",
        )
    if outcome == Outcome.GIVEN:
        if dose is not None and at < dose.window_opens:
            raise DoseError(
                f"Too early: this dose may be given from "
                f"{dose.window_opens.astimezone(home.tz):%H:%M}.",
                code="too_early",
            )
        if line.is_prn:
            _check_prn(
                line=line,
                home=home,
                at=at,
                prn_reason=prn_reason,
                override_by=prn_override_by,
                override_reason=prn_override_reason,
            )
        quantity = _check_given(
            line=line,
            dose=dose,
            home=home,
            by=by,
            quantity=quantity,
            covert=covert,
            witness=witness,
            body_site=body_site,
            old_patch_removed=old_patch_removed,
            at=at,
        )
        code = None
    else:
        _check_not_given(home=home, code=code, note=note)
        quantity, witness, covert, body_site, old_patch_removed = None, None, False, "", None
    record = Administration(
        home=home,
        resident=line.resident,
        line=line,
        dose=dose,
        outcome=outcome,
        code=code,
        quantity=quantity,
        administered_at=at,
        recorded_at=now,
        recorded_by=by,
        witness=witness,
        late=late,
        late_reason=late_reason.strip() if late else "",
        note=note.strip(),
        final=not (code is not None and code.retry_later),
        idempotency_key=idempotency_key,
        prn_reason=prn_reason.strip() if line.is_prn else "",
        prn_override_by=prn_override_by if line.is_prn else None,
        prn_override_reason=prn_override_reason.strip() if prn_override_by else "",
        body_site=body_site,
        old_patch_removed=old_patch_removed,
        covert=covert,
    )
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        if existing := _existing_for_key(idempotency_key, line=line):
            return existing
        if dose is not None:
            raise _already_recorded(dose) from None
        raise
    stock_on_administration(record=record)  # same transaction (R-STK-1, R-STK-2, R-CD-2)
    audit_append(
        home=home,
        actor=by,
        action=f"mar.{'prn' if line.is_prn else 'dose'}.{outcome}",
        obj=record,
        after=_snapshot(record),
    )
    if code is not None and code.category == CodeCategory.REFUSED:
        _refusals_check(line=line, home=home)
    return record


def _snapshot(record: Administration) -> dict:
    return {
        "line": record.line_id,
        "dose": record.dose_id,
        "outcome": record.outcome,
        "code": record.code.code if record.code_id else None,
        "quantity": record.quantity,
        "administered_at": record.administered_at,
        "witness": record.witness_id,
        "late": record.late,
        "late_reason": record.late_reason,
        "note": record.note,
        "corrects": record.corrects_id,
        "correction_reason": record.correction_reason,
        "prn_reason": record.prn_reason,
        "prn_override_by": record.prn_override_by_id,
        "body_site": record.body_site,
        "covert": record.covert,
    }


def _refusals_check(*, line: PrescriptionLine, home: CareHome) -> None:
    """R-MAR-7: three refusals of the same line in a row ask the senior on shift to request a
    prescriber review, once per run of refusals."""
    recent = list(
        _effective(Administration.objects.filter(line=line, final=True))
        .select_related("code")
        .order_by("-administered_at", "-pk")[:20]
    )
    run = []
    for record in recent:
        if record.code_id is None or record.code.category != CodeCategory.REFUSED:
            break
        run.append(record)
    if len(run) < REFUSALS_IN_A_ROW:
        return
    unit = line.resident.unit
    seniors = [
        u
        for u in core_selectors.on_shift(home, unit)
        if permissions.has_perm(u, Perm.CHECK_PRESCRIPTION, home)
    ]
    if not seniors:
        seniors = list(
            User.objects.filter(
                memberships__home=home,
                memberships__active=True,
                memberships__role__in=["senior", "manager"],
            )
        )
    notify(
        recipients=seniors,
        home=home,
        kind="refusals",
        subject=f"line:{line.pk}",
        window=str(run[-1].pk),
        title=f"{line.resident}: {line.medicine.name} refused {len(run)} times in a row",
        body="Request a prescriber review (R-MAR-7).",
        link=f"/residents/{line.resident_id}/",
        urgent=True,
    )


@transaction.atomic
def administration_correct(
    *,
    original: Administration,
    by: User,
    reason: str,
    idempotency_key: UUID,
    outcome: str,
    code: NonAdministrationCode | None = None,
    quantity: Decimal | None = None,
    note: str = "",
    witness: User | None = None,
) -> Administration:
    """R-MAR-4: a mistake is corrected by a new record pointing at the original, with a
    reason; both stay on the MAR. Only the person who recorded it or a senior may correct."""
    if existing := _existing_for_key(idempotency_key, line=original.line):
        return existing
    home = original.home
    if by.pk != original.recorded_by_id and not permissions.has_perm(
        by, Perm.CHECK_PRESCRIPTION, home
    ):
        raise DoseError(
            "Only the person who made the record or a senior can correct it.",
            code="correction_not_allowed",
        )
    if not permissions.has_perm(by, Perm.RECORD_DOSE, home):
        raise DoseError("Your role cannot record doses in this home.", code="not_allowed")
    if not reason.strip():
        raise DoseError("Say what was wrong.", code="correction_reason_required")
    original = Administration.objects.select_for_update().select_related("line").get(pk=original.pk)
    if Administration.objects.filter(corrects=original).exists():
        raise DoseError(
            "This record has already been corrected; correct the latest record instead.",
            code="already_corrected",
        )
    line = original.line
    if outcome == Outcome.GIVEN:
        if quantity is None or quantity <= 0:
            raise DoseError("Enter the quantity that was given.", code="quantity_required")
        if line.dose_max is not None and not (line.dose <= quantity <= line.dose_max):
            raise DoseError(
                f"The prescribed dose is {line.dose_text}.", code="quantity_out_of_range"
            )
        _check_witness(line=line, home=home, by=by, witness=witness, at=original.administered_at)
        code = None
    elif outcome == Outcome.NOT_GIVEN:
        _check_not_given(home=home, code=code, note=note)
        quantity, witness = None, None
    else:
        raise DoseError("Choose given or not given.", code="bad_outcome")
    record = Administration.objects.create(
        home=home,
        resident=original.resident,
        line=line,
        dose=original.dose,
        outcome=outcome,
        code=code,
        quantity=quantity,
        administered_at=original.administered_at,
        recorded_at=timezone.now(),
        recorded_by=by,
        witness=witness,
        note=note.strip(),
        final=original.final,
        idempotency_key=idempotency_key,
        corrects=original,
        correction_reason=reason.strip(),
        prn_reason=original.prn_reason,
        body_site=original.body_site,
        covert=original.covert,
    )
    stock_on_correction(original=original, record=record)  # the difference (R-STK-1)
    audit_append(
        home=home,
        actor=by,
        action="mar.correction",
        obj=record,
        before=_snapshot(original),
        after=_snapshot(record),
    )
    return record


@transaction.atomic
def prn_follow_up_record(
    *, administration: Administration, by: User, effectiveness: str, note: str = ""
) -> PrnFollowUp:
    """R-MAR-8: record whether a PRN dose worked. Once per dose."""
    if not administration.line.is_prn or administration.outcome != Outcome.GIVEN:
        raise DoseError("Only a given PRN dose has a follow-up.", code="not_prn")
    if not permissions.has_perm(by, Perm.RECORD_DOSE, administration.home):
        raise DoseError("Your role cannot record doses in this home.", code="not_allowed")
    if effectiveness not in Effectiveness.values:
        raise DoseError("Choose how well it worked.", code="bad_effectiveness")
    if effectiveness != Effectiveness.EFFECTIVE and not note.strip():
        raise DoseError(
            "Say what you saw, and whether the prescriber needs to know.", code="note_required"
        )
    try:
        with transaction.atomic():
            follow_up = PrnFollowUp.objects.create(
                administration=administration,
                effectiveness=effectiveness,
                note=note.strip(),
                recorded_by=by,
            )
    except IntegrityError:
        raise DoseError("The follow-up is already recorded.", code="already_recorded") from None
    audit_append(
        home=administration.home,
        actor=by,
        action="mar.prn.follow_up",
        obj=follow_up,
        after={"administration": administration.pk, "effectiveness": effectiveness},
    )
    return follow_up


def homely_remedy_duplicates(*, resident, remedy: HomelyRemedy) -> list[PrescriptionLine]:
    """Live prescribed lines sharing an ingredient with the remedy (R-MAR-11)."""
    wanted = set(remedy.medicine.ingredient_list)
    lines = PrescriptionLine.objects.filter(
        resident=resident, status=LineStatus.ACTIVE
    ).select_related("medicine")
    return [ln for ln in lines if wanted & set(ln.medicine.ingredient_list)]


@transaction.atomic
def homely_remedy_give(
    *,
    resident,
    remedy: HomelyRemedy,
    by: User,
    quantity: Decimal,
    reason: str,
    idempotency_key: UUID,
    confirm_duplicate: bool = False,
    administered_at: dt.datetime | None = None,
) -> HomelyRemedyDose:
    """R-MAR-11: a homely remedy with reason and dose; a warning (to confirm) when a
    prescribed line already has the same ingredient, e.g. paracetamol."""
    if found := HomelyRemedyDose.objects.filter(idempotency_key=idempotency_key).first():
        return found
    home = resident.home
    if remedy.home_id != home.pk or not remedy.active:
        raise DoseError("That remedy is not on this home's list.", code="not_on_list")
    if not permissions.has_perm(by, Perm.RECORD_DOSE, home):
        raise DoseError("Your role cannot record doses in this home.", code="not_allowed")
    if not reason.strip():
        raise DoseError("Say why the remedy is given.", code="reason_required")
    if quantity is None or quantity <= 0:
        raise DoseError("The quantity must be more than zero.", code="quantity_not_positive")
    now = timezone.now()
    at = administered_at or now
    _check_time(home=home, at=at, now=now)
    gate_administration(person=by, home=home, category=remedy.medicine.category, at=at)
    duplicates = homely_remedy_duplicates(resident=resident, remedy=remedy)
    warning = ""
    if duplicates:
        names = ", ".join(ln.medicine.name for ln in duplicates)
        warning = f"Already prescribed with the same ingredient: {names}"
        if not confirm_duplicate:
            raise DoseError(
                f"{warning}. Giving this too could double the dose; confirm only if a senior "
                "has checked.",
                code="duplicate_ingredient",
            )
    given_24h = HomelyRemedyDose.objects.filter(
        resident=resident, remedy=remedy, administered_at__gt=at - dt.timedelta(hours=24)
    ).count()
    if given_24h >= remedy.max_doses_24h:
        raise DoseError(
            f"The maximum of {remedy.max_doses_24h} doses in 24 hours has been reached.",
            code="max_24h",
        )
    dose = HomelyRemedyDose.objects.create(
        home=home,
        resident=resident,
        remedy=remedy,
        quantity=quantity,
        dose_unit=remedy.medicine.form[:20],
        reason=reason.strip(),
        administered_at=at,
        recorded_at=now,
        recorded_by=by,
        duplicate_warning=warning,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=home,
        actor=by,
        action="mar.homely_remedy.given",
        obj=dose,
        after={"remedy": remedy.medicine.name, "quantity": quantity, "warning": warning},
    )
    return dose
