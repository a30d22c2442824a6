"""MAR services: keeping scheduled doses in step with prescriptions, and recording doses
(R-MAR-1..13)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeGuard
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from emar import permissions
from emar import selectors as core_selectors
from emar.models import CareHome, CodeCategory, NonAdministrationCode, Role, Round, Unit, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append, notify
from residents.models import AllergyStatus, ResidentStatus
from residents.selectors import allergies_recorded
from training.services import gate_administration, gate_administration_all, gate_witness

from .. import schedule as sched
from .. import selectors
from ..models import (
    BODY_SITES,
    Administration,
    Adviser,
    Effectiveness,
    HomelyRemedy,
    HomelyRemedyAuthorisation,
    HomelyRemedyDose,
    LineStatus,
    Outcome,
    PrescriptionLine,
    PrnFollowUp,
    PrnProtocol,
    Route,
    ScheduledDose,
)
from ..selectors import (
    SCHEDULED_DOSE_FIELDS,
    allergy_matches,
    has_covert_plan,
    scheduled_dose_fields,
)
from .bodymap import (
    application_sites_check,
    application_sites_record,
    correction_sites_copy,
)
from .scanning import dose_scan_record, scan_check_dose
from .stock import homely_stock_on_give, stock_on_administration, stock_on_correction

__all__ = [
    "DoseError",
    "SyncResult",
    "administration_correct",
    "administration_record",
    "doses_sync",
    "doses_sync_for_read",
    "homely_remedy_give",
    "is_patch",
    "last_sites",
    "needs_site",
    "next_site",
    "patch_site_suggestion",
    "prn_follow_up_record",
    "prn_limit_reached",
    "prn_limits",
    "second_senior_confirm",
    "sync_window",
]


@dataclass(frozen=True)
class SyncResult:
    created: int
    cancelled: int
    restored: int
    updated: int


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
    existing = {(s.line_id, s.due_at): s for s in existing_qs}
    # Only doses still ahead may change: which of them has a record, by the dose index. (An
    # EXISTS per row was run as a hashed scan of every record in the database: SPEC §11.)
    ahead = [s.pk for s in existing.values() if s.due_at >= now]
    recorded = (
        set(Administration.objects.filter(dose_id__in=ahead).values_list("dose_id", flat=True))
        if ahead
        else set()
    )

    cancel, restore, update = [], [], []
    for key, s in existing.items():
        if s.due_at < now or s.pk in recorded:
            continue
        d = wanted.get(key)
        if d is None:
            if s.cancelled_at is None:
                cancel.append(s.pk)
            continue
        if s.cancelled_at is not None:
            restore.append(s.pk)
        fresh = scheduled_dose_fields(d, home, rounds)
        if any(getattr(s, f) != v for f, v in fresh.items() if f not in ("home_id",)):
            for f, v in fresh.items():
                setattr(s, f, v)
            update.append(s)
    if cancel:
        ScheduledDose.objects.filter(pk__in=cancel).update(cancelled_at=now)
    if restore:
        ScheduledDose.objects.filter(pk__in=restore).update(cancelled_at=None)
    if update:
        ScheduledDose.objects.bulk_update(
            update, [f for f in SCHEDULED_DOSE_FIELDS if f != "home_id"]
        )

    new = [
        ScheduledDose(**scheduled_dose_fields(d, home, rounds))
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


# --- Recording doses (R-MAR-2..13) -------------------------------------------------------------


class DoseError(DomainError):
    """A clinical rule refused the record; `code` is stable (tests and the API use it)."""


REFUSALS_IN_A_ROW = 3  # R-MAR-7


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
    return line.needs_site


def is_patch(line: PrescriptionLine) -> bool:
    return line.is_patch


LOOK_BACK = dt.timedelta(hours=24)  # R-MAR-3: how far back a record may say it was given
ABSURD_FACTOR = 10  # R-MAR-15: more than ten times the prescribed dose is never a real dose


def _check_time(
    *, home: CareHome, at: dt.datetime, now: dt.datetime, look_back: bool = True
) -> None:
    """R-MAR-3: a record may say it was given earlier (up to 24 hours back, across midnight),
    never in the future. A correction may fix an older time (`look_back=False`)."""
    if at > now + dt.timedelta(minutes=1):
        raise DoseError(
            "The time given cannot be in the future. Enter the time it was really given.",
            code="future_time",
        )
    if look_back and at < now - LOOK_BACK:
        raise DoseError(
            "That time is more than 24 hours ago. Ask a senior to correct the record for that "
            "day instead, with the reason.",
            code="too_far_back",
        )


def second_senior_confirm(*, person: User | None, by: User, home: CareHome, what: str) -> User:
    """A second, different senior or nurse confirms on this device (R-MAR-8 PRN override,
    R-MAR-16 allergy match, R-MAR-11 homely remedies).

    The form authenticates `person` with their own username and password or PIN on the same
    device (`forms.rounds.SecondSeniorMixin`, the CD witness's code path); this checks who it
    is: someone, not the person giving the dose, and a senior or nurse of this home. `what`
    names what is being confirmed, for the message."""
    if person is None:
        raise DoseError(
            f"{what} needs a second senior or nurse: they enter their own username and "
            "password (or PIN) on this device.",
            code="second_senior_required",
        )
    if person.pk == by.pk:
        raise DoseError(
            f"{what}: the second senior must be someone other than the person giving the dose. "
            "Ask another senior or nurse on shift.",
            code="second_senior_same_person",
        )
    if not permissions.has_perm(person, Perm.CHECK_PRESCRIPTION, home):
        raise DoseError(
            f"{what}: {person} is not a senior or nurse in this home. Ask a senior or nurse on "
            "shift to confirm.",
            code="second_senior_not_senior",
        )
    return person


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


@dataclass(frozen=True)
class PrnOverride:
    """A PRN override in force on a record (R-MAR-8): the second senior and the advice."""

    by: User
    reason: str
    advised_by_role: str
    adviser_name: str
    advised_at: dt.datetime


def prn_limits(line: PrescriptionLine) -> tuple[int, int]:
    """(minimum minutes between doses, most doses in 24 hours) for a PRN line: the
    prescriber's directions on the line, or the protocol where it is stricter (R-RX-6)."""
    protocol = PrnProtocol.objects.filter(line=line).order_by("-written_at", "-pk").first()
    if protocol is None:
        raise DoseError(
            "This PRN medicine has no protocol yet, so it cannot be given. Ask a senior to "
            "write the protocol (R-RX-6).",
            code="prn_protocol_required",
        )
    intervals = [v for v in (line.prn_min_interval_minutes, protocol.min_interval_minutes) if v]
    maxima = [v for v in (line.prn_max_doses_24h, protocol.max_doses_24h) if v]
    return max(intervals), min(maxima)


def _prn_breaches(
    *,
    line: PrescriptionLine,
    home: CareHome,
    at: dt.datetime,
    replacing: Administration | None = None,
) -> list[DoseError]:
    """The PRN limits (R-MAR-8) a dose at `at` would pass, as the errors to show."""
    interval_minutes, max_24h = prn_limits(line)
    given = _effective(
        Administration.objects.filter(line=line, outcome=Outcome.GIVEN, administered_at__lte=at)
    )
    if replacing is not None:
        given = given.exclude(pk=replacing.pk)
    breaches = []
    last = given.order_by("-administered_at").values_list("administered_at", flat=True).first()
    interval = dt.timedelta(minutes=interval_minutes)
    if last is not None and at - last < interval:
        breaches.append(
            DoseError(
                f"Too soon: the last dose was at {last.astimezone(home.tz):%H:%M}; the next is "
                f"allowed from {(last + interval).astimezone(home.tz):%H:%M}. Only give it now "
                "if a GP, out-of-hours, NHS 111 or a nurse advises it, and a second senior "
                "confirms the override.",
                code="prn_interval",
            )
        )
    in_24h = given.filter(administered_at__gt=at - dt.timedelta(hours=24)).count()
    if in_24h >= max_24h:
        breaches.append(
            DoseError(
                f"The maximum of {max_24h} doses in 24 hours has been reached. Only give it if "
                "a GP, out-of-hours, NHS 111 or a nurse advises it, and a second senior "
                "confirms the override.",
                code="prn_max_24h",
            )
        )
    return breaches


def prn_limit_reached(*, line: PrescriptionLine, at: dt.datetime | None = None) -> str:
    """For the PRN page: why a dose now would need an override, or "" (R-MAR-8)."""
    try:
        breaches = _prn_breaches(line=line, home=line.home, at=at or timezone.now())
    except DoseError:
        return ""
    return breaches[0].message if breaches else ""


def _check_prn(
    *,
    line: PrescriptionLine,
    home: CareHome,
    by: User,
    at: dt.datetime,
    now: dt.datetime,
    prn_reason: str,
    override_by: User | None,
    override_reason: str,
    advised_by_role: str,
    adviser_name: str,
    advised_at: dt.datetime | None,
    replacing: Administration | None = None,
) -> PrnOverride | None:
    """R-MAR-8, H-12: a reason; the minimum interval and the rolling 24-hour maximum from the
    line's directions (a protocol may be stricter). A dose past a limit needs an override:
    the clinical advice (who advised, their name, when), a reason, and a second, different
    senior or nurse who confirms on the device, never the giver. The caller holds a lock on
    the line. `replacing` is the record a correction replaces (not counted)."""
    if not prn_reason.strip():
        raise DoseError("Say why this PRN dose is needed.", code="prn_reason_required")
    breaches = _prn_breaches(line=line, home=home, at=at, replacing=replacing)
    if not breaches:
        return None  # no limit passed: nothing to override
    wants_override = override_by is not None or override_reason.strip() or advised_by_role
    if not wants_override:
        raise breaches[0]
    if advised_by_role not in Adviser.values or not adviser_name.strip() or advised_at is None:
        raise DoseError(
            "Record the clinical advice for the override: who advised (GP, out-of-hours, "
            "NHS 111 or nurse), their name and when.",
            code="override_advice_required",
        )
    if advised_at > now + dt.timedelta(minutes=1) or advised_at < at - LOOK_BACK:
        raise DoseError(
            "The advice must be from the last 24 hours before the dose, not in the future.",
            code="override_advice_time",
        )
    if not override_reason.strip():
        raise DoseError(
            "Give the reason for the override (what the adviser said).",
            code="override_reason_required",
        )
    senior = second_senior_confirm(person=override_by, by=by, home=home, what="A PRN override")
    return PrnOverride(
        senior, override_reason.strip(), advised_by_role, adviser_name.strip(), advised_at
    )


def _check_allergy(
    *, line: PrescriptionLine, home: CareHome, by: User, confirmed_by: User | None
) -> User | None:
    """R-MAR-16, R-RX-11: a line matching a recorded allergy is given only with a second,
    authenticated senior's confirmation. Returns who confirmed (None when no match)."""
    allergies = allergies_recorded(line.resident)  # the row re-rendered after reuses it
    matches = allergy_matches(line.medicine, allergies) if allergies else []
    if not matches:
        return None
    names = ", ".join(a.substance for a in matches)
    return second_senior_confirm(
        person=confirmed_by,
        by=by,
        home=home,
        what=f"{line.resident} is allergic to {names} and {line.medicine.name} matches: giving it",
    )


def _check_quantity(
    *,
    line: PrescriptionLine,
    dose: ScheduledDose | None,
    quantity: Decimal | None,
    reason: str,
) -> tuple[Decimal, str]:
    """R-MAR-15: a fixed dose records the prescribed quantity, any other needs a reason; a
    range accepts only a quantity within it; zero, negative or absurd quantities are refused.
    Returns (quantity, the reason kept on the record)."""
    prescribed = dose.dose if dose is not None and dose.dose is not None else line.dose
    if quantity is None:
        if line.dose_max is not None:
            raise DoseError(
                f"Enter how much was given ({line.dose_text}).", code="quantity_required"
            )
        quantity = prescribed
    if quantity <= 0:
        raise DoseError(
            "The amount given must be more than zero. If nothing was given, record "
            "'Not given' with a reason code.",
            code="quantity_not_positive",
        )
    if line.dose_max is not None:
        if not (line.dose <= quantity <= line.dose_max):
            raise DoseError(
                f"The prescription says {line.dose_text}: enter an amount in that range.",
                code="quantity_out_of_range",
            )
        return quantity, ""
    if quantity > prescribed * ABSURD_FACTOR:
        raise DoseError(
            f"{quantity.normalize()} is far more than the prescribed {line.dose_text}. Check "
            "the amount; if it is right, ask a senior to contact the prescriber.",
            code="quantity_absurd",
        )
    if quantity != prescribed:
        if not reason.strip():
            raise DoseError(
                f"The prescribed dose is {prescribed.normalize()} {line.get_dose_unit_display()}. "
                "Say why a different amount was given (it shows on the MAR chart).",
                code="quantity_reason_required",
            )
        return quantity, reason.strip()
    return quantity, ""


def _check_given(
    *,
    line: PrescriptionLine,
    dose: ScheduledDose | None,
    home: CareHome,
    by: User,
    quantity: Decimal | None,
    quantity_reason: str,
    covert: bool,
    witness: User | None,
    body_site: str,
    old_patch_removed: bool | None,
    allergy_confirmed_by: User | None,
    at: dt.datetime,
) -> tuple[Decimal, str, User | None]:
    """Every rule for a dose given (first record or correction): quantity, covert plan, gate,
    witness, site, allergy. Returns (quantity, quantity reason, who confirmed an allergy)."""
    if dose is not None and dose.needs_dose_entry:
        raise DoseError(
            "Today's dose has not been entered yet (variable dose): ask the senior on shift.",
            code="dose_not_entered",
        )
    quantity, quantity_reason = _check_quantity(
        line=line, dose=dose, quantity=quantity, reason=quantity_reason
    )
    if covert and not has_covert_plan(line):
        raise DoseError(
            "Covert administration needs the covert plan attached to this line (R-RX-8).",
            code="covert_plan_required",
        )
    gate_administration_all(
        person=by, home=home, categories=line.competency_categories(covert=covert), at=at
    )
    _check_witness(line=line, home=home, by=by, witness=witness, at=at)
    if line.needs_site:
        if body_site not in BODY_SITES and not (line.route == Route.TOPICAL and body_site):
            raise DoseError("Record where it was applied.", code="body_site_required")
        last_site, _ = patch_site_suggestion(line)
        if line.is_patch and last_site is not None and old_patch_removed is not True:
            raise DoseError(
                f"Confirm the old patch ({last_site}) was removed.",
                code="old_patch_not_confirmed",
            )
    confirmed = _check_allergy(line=line, home=home, by=by, confirmed_by=allergy_confirmed_by)
    return quantity, quantity_reason, confirmed


def _check_not_given(
    *, home: CareHome, code: NonAdministrationCode | None, note: str
) -> NonAdministrationCode:
    """The reason code of a dose not given: one of the home's active codes, with a note where
    the code asks for one (R-MAR-6)."""
    if code is None or code.home_id != home.pk or not code.active:
        raise DoseError("Choose a reason code from the list.", code="code_required")
    if code.note_required and not note.strip():
        raise DoseError(f"Code {code.code} ({code.label}) needs a note.", code="note_required")
    return code


def _is_absence(code: NonAdministrationCode | None) -> TypeGuard[NonAdministrationCode]:
    """H (in hospital), L (on leave) and any other code of the absent category (R-MAR-14)."""
    return code is not None and code.category == CodeCategory.ABSENT


def _check_window(
    *,
    dose: ScheduledDose | None,
    home: CareHome,
    outcome: str,
    code: NonAdministrationCode | None,
    at: dt.datetime,
    now: dt.datetime,
) -> None:
    """R-MAR-3, R-MAR-14: nothing is recorded for a dose before its window opens — given or
    not given — except an absence (H, L), which may be recorded ahead for the same day."""
    if dose is None:
        return
    opens = dose.window_opens.astimezone(home.tz)
    if outcome == Outcome.NOT_GIVEN and _is_absence(code):
        if now < dose.window_opens and dose.local_date != now.astimezone(home.tz).date():
            raise DoseError(
                f"{code.code} can be recorded ahead only for today's doses. Record it on the day.",
                code="absence_not_today",
            )
        return
    if outcome == Outcome.NOT_GIVEN and now < dose.window_opens:
        raise DoseError(
            f"This dose is not due yet: 'Not given' can be recorded from {opens:%H:%M}. Only "
            "'in hospital' (H) or 'on leave' (L) can be recorded ahead.",
            code="not_given_too_early",
        )
    if at < dose.window_opens:
        if outcome == Outcome.GIVEN:
            raise DoseError(
                f"Too early: this dose may be given from {opens:%H:%M}.", code="too_early"
            )
        raise DoseError(
            f"The time cannot be before the dose was due: enter {opens:%H:%M} or later.",
            code="before_window",
        )


def _existing_for_key(key: UUID, *, line: PrescriptionLine, by: User) -> Administration | None:
    """The record this submission already made: a retry by the same person gets it back; anyone
    else sending the same key (a form shared between devices) is told who recorded it and
    when, never "recorded" as if it were theirs (R-MAR-5)."""
    found = (
        Administration.objects.select_related("recorded_by", "home")
        .filter(idempotency_key=key)
        .first()
    )
    if found is not None and found.line_id != line.pk:
        raise DoseError("This form was already used for another dose.", code="key_reused")
    if found is not None and found.recorded_by_id != by.pk:
        raise _recorded_by_someone_else(found)
    return found


def _recorded_by_someone_else(record: Administration) -> DoseError:
    when = record.recorded_at.astimezone(record.home.tz)
    return DoseError(
        f"Already recorded by {record.recorded_by} at {when:%H:%M} on {when:%-d %b}: "
        f"{record.get_outcome_display().lower()}. Nothing more was recorded; check the round "
        "before giving anything.",
        code="already_recorded",
    )


def _in_force_final(dose: ScheduledDose) -> Administration | None:
    """The record in force that closes the dose (after corrections; a void closes nothing)."""
    return (
        Administration.objects.select_related("recorded_by")
        .filter(dose=dose, final=True, corrected_by__isnull=True)
        .exclude(outcome=Outcome.IN_ERROR)
        .first()
    )


def _already_recorded(dose: ScheduledDose) -> DoseError:
    first = _in_force_final(dose)
    who = (
        f"{first.recorded_by} at {first.recorded_at.astimezone(dose.home.tz):%H:%M}"
        if first
        else "someone"
    )
    return DoseError(
        f"Already recorded by {who}: {first.get_outcome_display().lower() if first else ''}.",
        code="already_recorded",
    )


def _void_to_follow(dose: ScheduledDose) -> Administration | None:
    """R-MAR-4: after a record was voided ("recorded in error") the dose is open again. Its
    first record still holds the dose's one-outcome slot, so the new record continues that
    chain: it points at the void, and the one-to-one rule on `corrects` lets only one do so."""
    loaded = getattr(dose, selectors.LOADED_RECORDS, None)
    if loaded is not None and not any(r.final for r in loaded):
        # Read with the dose, no record closes it: no void to follow. One recorded meanwhile
        # is met by the one-outcome rule at the insert (SPEC §11: no query when no void).
        return None
    root = Administration.objects.filter(dose=dose, final=True, corrects__isnull=True).first()
    head = root
    while head is not None:
        newer = Administration.objects.filter(corrects=head).first()
        if newer is None:
            break
        head = newer
    return head if head is not None and head.is_void else None


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
    quantity_reason: str = "",
    administered_at: dt.datetime | None = None,
    note: str = "",
    late_reason: str = "",
    witness: User | None = None,
    prn_reason: str = "",
    prn_override_by: User | None = None,
    prn_override_reason: str = "",
    prn_advised_by_role: str = "",
    prn_adviser_name: str = "",
    prn_advised_at: dt.datetime | None = None,
    allergy_confirmed_by: User | None = None,
    body_site: str = "",
    old_patch_removed: bool | None = None,
    covert: bool = False,
    sites: Sequence[str] | None = None,
    scan: str = "",
    no_scan_reason: str = "",
) -> Administration:
    """Record one outcome for a scheduled dose, or a PRN dose for a line (R-MAR-2..17).

    The same idempotency key again returns the first record (a double tap, a retry after a
    dropped connection). A second outcome for the same dose is refused by the database's
    unique rule, not by a check-then-insert, and the error says who recorded it and when
    (R-MAR-5). Every rule is checked here, for every path (round screen, resident page, API):
    time bounds (R-MAR-3, R-MAR-14), the training gate for any outcome (R-MAR-13), quantity
    (R-MAR-15), PRN limits and overrides (R-MAR-8), witness (R-MAR-9), allergy confirmation
    (R-MAR-16), the pack's barcode against the line's product (R-SCAN-1, `scan_check_dose`).
    """
    if dose is not None:
        line = dose.line
    if line is None:
        raise DoseError("Which dose?", code="no_dose")
    if existing := _existing_for_key(idempotency_key, line=line, by=by):
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
    if outcome not in (Outcome.GIVEN, Outcome.NOT_GIVEN):
        raise DoseError("Choose given or not given.", code="bad_outcome")
    if dose is None and not line.is_prn:
        raise DoseError("A regular dose is recorded against its scheduled time.", code="no_dose")
    if dose is not None and dose.cancelled_at is not None:
        raise DoseError(
            "This dose is no longer due (the prescription changed).", code="dose_cancelled"
        )
    # R-MAR-13: any outcome, given or not given, needs in-date training and competency.
    gate_administration_all(
        person=by,
        home=home,
        categories=line.competency_categories(covert=covert and outcome == Outcome.GIVEN),
        at=at,
    )
    _check_window(dose=dose, home=home, outcome=outcome, code=code, at=at, now=now)
    late = dose is not None and now > dose.window_closes
    if late and not late_reason.strip():
        raise DoseError(
            "This is a late entry: the dose window has closed. Say why it is recorded late.",
            code="late_reason_required",
        )
    override = None
    confirmed = None
    pack = None
    if outcome == Outcome.GIVEN:
        if line.is_prn:
            override = _check_prn(
                line=line,
                home=home,
                by=by,
                at=at,
                now=now,
                prn_reason=prn_reason,
                override_by=prn_override_by,
                override_reason=prn_override_reason,
                advised_by_role=prn_advised_by_role,
                adviser_name=prn_adviser_name,
                advised_at=prn_advised_at,
            )
        # R-MAR-17: a cream's sites on the body map (medications/services/bodymap.py).
        sites, body_site = application_sites_check(line=line, sites=sites, body_site=body_site)
        quantity, quantity_reason, confirmed = _check_given(
            line=line,
            dose=dose,
            home=home,
            by=by,
            quantity=quantity,
            quantity_reason=quantity_reason,
            covert=covert,
            witness=witness,
            body_site=body_site,
            old_patch_removed=old_patch_removed,
            allergy_confirmed_by=allergy_confirmed_by,
            at=at,
        )
        code = None
        pack = scan_check_dose(
            line=line,
            home=home,
            code=scan,
            no_scan_reason=no_scan_reason,
            today=at.astimezone(home.tz).date(),
            late=late,
        )
    else:
        _check_not_given(home=home, code=code, note=note)
        quantity, witness, covert, body_site, old_patch_removed = None, None, False, "", None
        quantity_reason, sites = "", None
    final = not (code is not None and code.retry_later)
    follows = _void_to_follow(dose) if dose is not None and final else None
    record = Administration(
        home=home,
        resident=line.resident,
        line=line,
        dose=dose,
        outcome=outcome,
        code=code,
        quantity=quantity,
        quantity_reason=quantity_reason,
        administered_at=at,
        recorded_at=now,
        recorded_by=by,
        witness=witness,
        late=late,
        late_reason=late_reason.strip() if late else "",
        note=note.strip(),
        final=final,
        idempotency_key=idempotency_key,
        corrects=follows,
        correction_reason=(
            "Recorded again after the earlier record was marked recorded in error"
            if follows
            else ""
        ),
        prn_reason=prn_reason.strip() if line.is_prn else "",
        prn_override_by=override.by if override else None,
        prn_override_reason=override.reason if override else "",
        prn_advised_by_role=override.advised_by_role if override else "",
        prn_adviser_name=override.adviser_name if override else "",
        prn_advised_at=override.advised_at if override else None,
        allergy_confirmed_by=confirmed,
        body_site=body_site,
        old_patch_removed=old_patch_removed,
        covert=covert,
    )
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        if existing := _existing_for_key(idempotency_key, line=line, by=by):
            return existing
        if dose is not None:
            raise _already_recorded(dose) from None
        raise
    moved = stock_on_administration(record=record)  # same transaction (R-STK-1, R-STK-2, R-CD-2)
    applied = application_sites_record(record=record, sites=sites or [])
    if pack is not None:
        dose_scan_record(record=record, check=pack)
    audit_append(
        home=home,
        actor=by,
        action=f"mar.{'prn' if line.is_prn else 'dose'}.{outcome}",
        record=record,
        written={"stock_movements": [moved.movement] if moved.movement else []},
        after=_snapshot(record)
        | ({"sites": applied} if applied else {})
        | (pack.audit() if pack is not None else {}),
    )
    if code is not None and code.category == CodeCategory.REFUSED:
        _refusals_check(line=line, home=home)
    return record


def _snapshot(record: Administration) -> dict:
    return {
        "line": record.line_id,
        "dose": record.dose_id,
        "outcome": record.outcome,
        "code": record.code.code if record.code is not None else None,
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
        "prn_override_reason": record.prn_override_reason,
        "prn_advised_by_role": record.prn_advised_by_role,
        "prn_adviser_name": record.prn_adviser_name,
        "prn_advised_at": record.prn_advised_at,
        "allergy_confirmed_by": record.allergy_confirmed_by_id,
        "quantity_reason": record.quantity_reason,
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
        seniors = list(core_selectors.staff_of_home(home, (Role.SENIOR, Role.MANAGER)))
    notify(
        recipients=seniors,
        home=home,
        kind="refusals",
        subject=f"line:{line.pk}",
        window=str(run[-1].pk),
        title=f"{line.resident}: {line.medicine.name} refused {len(run)} times in a row",
        body="Request a prescriber review (R-MAR-7).",
        link=reverse("medications:resident_profile", args=[line.resident_id]),
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
    quantity_reason: str = "",
    administered_at: dt.datetime | None = None,
    note: str = "",
    witness: User | None = None,
    prn_override_by: User | None = None,
    prn_override_reason: str = "",
    prn_advised_by_role: str = "",
    prn_adviser_name: str = "",
    prn_advised_at: dt.datetime | None = None,
    allergy_confirmed_by: User | None = None,
    body_site: str | None = None,
    old_patch_removed: bool | None = None,
) -> Administration:
    """R-MAR-4, H-17: a mistake is corrected by a new record pointing at the original, with a
    reason; both stay on the MAR. Only the person who recorded it or a senior may correct.

    A correction can change the outcome, code, quantity or administration time, or void the
    record (`outcome="in_error"`, "recorded in error"): the dose is open again while its window
    is open, and a gap after. A correction to "given" or "not given" passes every rule a first
    record does (time and window, training gate, witness, PRN limits, quantity, allergy
    confirmation); stock moves by the difference (R-STK-1)."""
    if existing := _existing_for_key(idempotency_key, line=original.line, by=by):
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
    # The same lock order as administration_record: the line first.
    line = (
        PrescriptionLine.objects.select_for_update()
        .select_related("medicine", "resident")
        .get(pk=original.line_id)
    )
    original = (
        Administration.objects.select_for_update(of=("self",))
        .select_related("line", "dose", "code")
        .get(pk=original.pk)
    )
    if Administration.objects.filter(corrects=original).exists():
        raise DoseError(
            "This record has already been corrected; correct the latest record instead.",
            code="already_corrected",
        )
    if original.is_void:
        raise DoseError(
            "This record was marked recorded in error, so there is nothing to correct. Record "
            "the dose again from the round (or the PRN page).",
            code="void_not_correctable",
        )
    dose = original.dose
    now = timezone.now()
    at = administered_at or original.administered_at
    late, late_reason = original.late, original.late_reason
    override = None
    confirmed = None
    quantity_reason = quantity_reason or ""
    if body_site is None:
        body_site = original.body_site
    if old_patch_removed is None:
        old_patch_removed = original.old_patch_removed
    if outcome == Outcome.IN_ERROR:
        code, quantity, witness, quantity_reason = None, None, None, ""
        at = original.administered_at
        final = False
    elif outcome in (Outcome.GIVEN, Outcome.NOT_GIVEN):
        _check_time(home=home, at=at, now=now, look_back=False)
        gate_administration_all(
            person=by,
            home=home,
            categories=line.competency_categories(
                covert=original.covert and outcome == Outcome.GIVEN
            ),
            at=now,
        )
        _check_window(dose=dose, home=home, outcome=outcome, code=code, at=at, now=now)
        if outcome == Outcome.GIVEN:
            if line.is_prn:
                override = _check_prn(
                    line=line,
                    home=home,
                    by=by,
                    at=at,
                    now=now,
                    prn_reason=original.prn_reason or reason,
                    override_by=prn_override_by,
                    override_reason=prn_override_reason,
                    advised_by_role=prn_advised_by_role,
                    adviser_name=prn_adviser_name,
                    advised_at=prn_advised_at,
                    replacing=original,
                )
            quantity, quantity_reason, confirmed = _check_given(
                line=line,
                dose=dose,
                home=home,
                by=by,
                quantity=quantity,
                quantity_reason=quantity_reason,
                covert=original.covert,
                witness=witness,
                body_site=body_site,
                old_patch_removed=old_patch_removed,
                allergy_confirmed_by=allergy_confirmed_by,
                at=at,
            )
            code = None
            final = True
        else:
            code = _check_not_given(home=home, code=code, note=note)
            quantity, witness, quantity_reason = None, None, ""
            final = not code.retry_later
        if final and not original.final and dose is not None and _in_force_final(dose):
            raise _already_recorded(dose)
    else:
        raise DoseError("Choose given, not given, or recorded in error.", code="bad_outcome")
    record = Administration.objects.create(
        home=home,
        resident=original.resident,
        line=line,
        dose=dose,
        outcome=outcome,
        code=code,
        quantity=quantity,
        quantity_reason=quantity_reason,
        administered_at=at,
        recorded_at=now,
        recorded_by=by,
        witness=witness,
        late=late,
        late_reason=late_reason,
        note=note.strip(),
        final=final,
        idempotency_key=idempotency_key,
        corrects=original,
        correction_reason=reason.strip(),
        prn_reason=original.prn_reason,
        prn_override_by=override.by if override else None,
        prn_override_reason=override.reason if override else "",
        prn_advised_by_role=override.advised_by_role if override else "",
        prn_adviser_name=override.adviser_name if override else "",
        prn_advised_at=override.advised_at if override else None,
        allergy_confirmed_by=confirmed,
        body_site=body_site if outcome == Outcome.GIVEN else "",
        old_patch_removed=old_patch_removed if outcome == Outcome.GIVEN else None,
        covert=original.covert if outcome == Outcome.GIVEN else False,
    )
    stock_on_correction(original=original, record=record)  # the difference (R-STK-1)
    correction_sites_copy(original=original, record=record)  # R-MAR-17
    audit_append(
        home=home,
        actor=by,
        action="mar.correction.in_error" if outcome == Outcome.IN_ERROR else "mar.correction",
        record=record,
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
        record=follow_up,
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
    override_by: User | None = None,
    override_reason: str = "",
    administered_at: dt.datetime | None = None,
) -> HomelyRemedyDose:
    """R-MAR-11 (NICE SC1): a homely remedy from the home's list, for a resident whose GP or
    pharmacist authorised it (authorisation in force, review date not passed), within the
    list entry's dose, minimum interval, rolling 24-hour maximum and day limit.

    Day limit: the remedy may be given on at most `max_days` consecutive days (home's local
    days); a day without it ends the course. Giving it on one more consecutive day is refused:
    the GP must be asked.

    A live prescribed line with the same ingredient (e.g. paracetamol) or an allergy match
    blocks unless a second, different senior, who authenticated on the device (the view checks
    their password or PIN), overrides with a reason. The caller never passes a tick box.
    """
    if found := HomelyRemedyDose.objects.filter(idempotency_key=idempotency_key).first():
        if found.recorded_by_id != by.pk:
            when = found.recorded_at.astimezone(resident.home.tz)
            raise DoseError(
                f"Already recorded by {found.recorded_by} at {when:%H:%M} on {when:%-d %b}. "
                "Nothing more was recorded.",
                code="already_recorded",
            )
        return found
    home = resident.home
    if remedy.home_id != home.pk or not remedy.active:
        raise DoseError("That remedy is not on this home's list.", code="not_on_list")
    if not permissions.has_perm(by, Perm.RECORD_DOSE, home):
        raise DoseError("Your role cannot record doses in this home.", code="not_allowed")
    if resident.status != ResidentStatus.RESIDENT:
        raise DoseError("This resident no longer lives here.", code="resident_left")
    if not remedy.is_complete:
        raise DoseError(
            "This remedy's entry on the home's list has no dose, indication or minimum interval: "
            "ask the manager to complete it before it is given.",
            code="homely_list_incomplete",
        )
    if not reason.strip():
        raise DoseError("Say why the remedy is given.", code="reason_required")
    if quantity is None or quantity <= 0:
        raise DoseError("The quantity must be more than zero.", code="quantity_not_positive")
    assert remedy.dose is not None, "is_complete: a remedy on the list has a dose"
    top = remedy.dose_max if remedy.dose_max is not None else remedy.dose
    if not (remedy.dose <= quantity <= top):
        raise DoseError(
            f"The dose on the home's list is {remedy.dose_text}: give that amount.",
            code="quantity_out_of_range",
        )
    now = timezone.now()
    at = administered_at or now
    _check_time(home=home, at=at, now=now)
    gate_administration(person=by, home=home, category=remedy.medicine.category, at=at)
    # Serialise gives of one remedy to one resident: the limits read what went before.
    authorisation = _homely_authorisation(resident=resident, remedy=remedy, home=home)
    _homely_limits(resident=resident, remedy=remedy, home=home, at=at)
    duplicates = homely_remedy_duplicates(resident=resident, remedy=remedy)
    duplicate_warning = ""
    if duplicates:
        names = ", ".join(ln.medicine.name for ln in duplicates)
        duplicate_warning = f"Already prescribed with the same ingredient: {names}"[:300]
    allergy_warning = ""
    if resident.allergy_status == AllergyStatus.UNKNOWN:
        raise DoseError(
            f"{resident}'s allergies are not recorded, so a homely remedy cannot be given. "
            "Ask a senior to record the allergy status first.",
            code="allergy_status_unknown",
        )
    if matches := allergy_matches(
        remedy.medicine, list(resident.allergies.filter(removed_at__isnull=True))
    ):
        names = ", ".join(a.substance for a in matches)
        allergy_warning = f"Allergy: {resident} is allergic to {names}"[:300]
    if duplicate_warning or allergy_warning:
        _homely_override(
            by=by,
            home=home,
            override_by=override_by,
            override_reason=override_reason,
            warning=". ".join(w for w in (allergy_warning, duplicate_warning) if w),
            code="homely_allergy" if allergy_warning else "duplicate_ingredient",
        )
    else:
        override_by, override_reason = None, ""
    dose = HomelyRemedyDose.objects.create(
        home=home,
        resident=resident,
        remedy=remedy,
        authorisation=authorisation,
        quantity=quantity,
        dose_unit=remedy.get_dose_unit_display()[:20],
        reason=reason.strip(),
        administered_at=at,
        recorded_at=now,
        recorded_by=by,
        duplicate_warning=duplicate_warning,
        allergy_warning=allergy_warning,
        override_by=override_by,
        override_reason=override_reason.strip(),
        idempotency_key=idempotency_key,
    )
    # The home's supply moves in the same transaction (R-MAR-11), before the audit chain is
    # locked as for a line's dose; the caller may show the warning.
    dose.stock_warning = homely_stock_on_give(dose=dose)
    audit_append(
        home=home,
        actor=by,
        action="mar.homely_remedy.given",
        record=dose,
        after={
            "remedy": remedy.medicine.name,
            "quantity": quantity,
            "administered_at": at,
            "authorisation": authorisation.pk,
            "duplicate_warning": duplicate_warning,
            "allergy_warning": allergy_warning,
            "override_by": override_by.pk if override_by else None,
            "override_reason": override_reason.strip(),
        },
    )
    return dose


def _homely_authorisation(
    *, resident, remedy: HomelyRemedy, home: CareHome
) -> HomelyRemedyAuthorisation:
    """The resident's authorisation in force for this remedy, locked (R-MAR-11)."""
    authorisation = (
        HomelyRemedyAuthorisation.objects.select_for_update()
        .filter(resident=resident, remedy=remedy)
        .order_by("-recorded_at", "-pk")
        .first()
    )
    if authorisation is None or authorisation.withdrawn_at is not None:
        raise DoseError(
            f"{resident}'s GP or pharmacist has not authorised {remedy.medicine.name}. Do not "
            "give it: ask a senior to contact the GP, or record the authorisation on the "
            "resident's page.",
            code="homely_not_authorised",
        )
    if authorisation.expired(home.local_today()):
        raise DoseError(
            f"The authorisation for {remedy.medicine.name} passed its review date on "
            f"{authorisation.review_date:%-d %b %Y}. Do not give it: ask a senior to have the "
            "GP or pharmacist review it.",
            code="homely_authorisation_expired",
        )
    return authorisation


def _homely_limits(*, resident, remedy: HomelyRemedy, home: CareHome, at: dt.datetime) -> None:
    """Minimum interval (either side of `at`, since a dose may be recorded after the fact),
    rolling 24-hour maximum, and the consecutive-day limit of R-MAR-11."""
    tz = home.tz
    day = at.astimezone(tz).date()
    since = min(
        at - dt.timedelta(hours=24),
        sched.local_to_utc(day - dt.timedelta(days=remedy.max_days), dt.time(0), tz)[0],
    )
    given = list(
        HomelyRemedyDose.objects.filter(
            resident=resident, remedy=remedy, administered_at__gt=since
        ).values_list("administered_at", flat=True)
    )
    # The caller refused an incomplete entry (`is_complete`), so the interval is known.
    assert remedy.min_interval_minutes is not None, "homely remedy without a minimum interval"
    interval = dt.timedelta(minutes=remedy.min_interval_minutes)
    near = [g for g in given if abs(g - at) < interval]
    if near:
        last = max(near)
        wait = last + interval
        raise DoseError(
            f"Too soon: {remedy.medicine.name} was last given at "
            f"{last.astimezone(tz):%H:%M}. The next dose may be given from "
            f"{wait.astimezone(tz):%H:%M}.",
            code="homely_interval",
        )
    in_24h = sum(1 for g in given if at - dt.timedelta(hours=24) < g <= at)
    if in_24h >= remedy.max_doses_24h:
        raise DoseError(
            f"{remedy.max_doses_24h} doses of {remedy.medicine.name} have been given in the last "
            "24 hours, the most allowed. Do not give more: tell the senior on shift.",
            code="homely_max_24h",
        )
    days = {g.astimezone(tz).date() for g in given}
    run = 0
    while day - dt.timedelta(days=run + 1) in days:
        run += 1
    if day not in days and run >= remedy.max_days:
        raise DoseError(
            f"{remedy.medicine.name} has been given on {run} days in a row, the most the home's "
            "list allows. Do not give it again: contact the GP for advice.",
            code="homely_max_days",
        )


def _homely_override(
    *,
    by: User,
    home: CareHome,
    override_by: User | None,
    override_reason: str,
    warning: str,
    code: str,
) -> None:
    """R-MAR-11: a duplicate ingredient or an allergy match needs a second, different senior
    (authenticated on the device by the form, `second_senior_confirm`) and a reason."""
    if override_by is None:
        raise DoseError(
            f"{warning}. Do not give it unless a second senior checks: they enter their "
            "username and password or PIN below, with the reason.",
            code=code,
        )
    second_senior_confirm(person=override_by, by=by, home=home, what="A homely remedy override")
    if not override_reason.strip():
        raise DoseError(
            "The senior must say why it is safe to give it.", code="override_reason_required"
        )
