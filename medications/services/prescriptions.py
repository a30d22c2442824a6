"""Writes and rules of prescriptions (R-RX-2..10). Every write appends to the audit trail.

Lines are never edited clinically: a schedule change is a new version checked by a second
senior, any other change is a stop plus a new line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from emar import permissions
from emar import selectors as core_selectors
from emar.models import CareHome, Unit, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append, idempotent, notify
from residents.models import Allergy, AllergyStatus, Resident

from .. import schedule as sched
from ..models import (
    CovertPlan,
    LineAllergyMatch,
    LineStatus,
    Medicine,
    PrescriptionLine,
    PrnProtocol,
    RxSource,
    ScheduleVersion,
    SelfAdminAssessment,
    VariableDose,
    validate_not_a_container,
)
from ..selectors import allergy_matches, current_version
from .bodymap import SiteInput, line_sites_store, line_sites_validate
from .downtime import downtime_kit_mark
from .homely import homely_authorisations_in_force
from .mar import doses_sync

__all__ = [
    "ScheduleInput",
    "covert_plan_record",
    "line_allergies_recheck",
    "line_check",
    "line_create",
    "line_stop",
    "prn_protocol_write",
    "schedule_change",
    "schedule_version_check",
    "self_admin_assess",
    "validate_not_a_container_domain",
    "variable_dose_check",
    "variable_dose_set",
]

STOP_GRACE = dt.timedelta(minutes=5)


def _allergy_matches_store(
    line: PrescriptionLine, matches: list[Allergy], by: User
) -> list[LineAllergyMatch]:
    """Store each (line, allergy) match once; return only the new ones."""
    known = set(
        LineAllergyMatch.objects.filter(line=line, allergy__in=matches).values_list(
            "allergy_id", flat=True
        )
    )
    new = [a.pk for a in matches if a.pk not in known]
    if not new:
        return []
    LineAllergyMatch.objects.bulk_create(
        [LineAllergyMatch(line=line, allergy_id=pk, found_by=by) for pk in new],
        ignore_conflicts=True,  # the unique rule decides under concurrency
    )
    # Read back: PostgreSQL returns no ids for rows that ignore_conflicts may have skipped.
    return list(
        LineAllergyMatch.objects.filter(line=line, allergy_id__in=new).select_related(
            "line__medicine", "allergy"
        )
    )


@transaction.atomic
def line_allergies_recheck(*, resident: Resident, by: User) -> list[LineAllergyMatch]:
    """Re-check every live line of the resident (awaiting check or active) against their
    recorded allergies by product and ingredients, after an allergy is added or changed
    (R-RX-11). Each new match is stored on the line (the round shows "Allergy match: ...") and
    the seniors on shift are told once per match. Registered with the residents app, which
    calls it inside every allergy change (`residents.services.allergy_recheck_register`)."""
    allergies = _active_allergies(resident)
    if not allergies:
        return []
    _homely_authorisations_recheck(resident=resident, allergies=allergies)
    lines = PrescriptionLine.objects.filter(
        resident=resident, status__in=[LineStatus.AWAITING_CHECK, LineStatus.ACTIVE]
    ).select_related("medicine")
    found: list[LineAllergyMatch] = []
    for line in lines:
        matches = allergy_matches(line.medicine, allergies)
        if matches:
            found += _allergy_matches_store(line, matches, by)
    if not found:
        return []
    home = CareHome.objects.get(pk=resident.home_id)
    now = timezone.now()
    for match in found:
        notify(
            recipients=core_selectors.seniors_on_shift(home, resident.unit),
            home=home,
            kind="allergy_match",
            subject=f"line:{match.line_id}",
            window=f"allergy:{match.allergy_id}",
            title=(
                f"{resident}: {match.line.medicine.name} matches the allergy to "
                f"{match.allergy.substance}"
            ),
            body=(
                "A senior must confirm with the prescriber before the next dose: stop the line, "
                "or record the prescriber's advice. The round shows the match on the line."
            ),
            link=reverse("medications:resident_profile", args=[resident.pk]),
            urgent=True,
        )
    LineAllergyMatch.objects.filter(pk__in=[m.pk for m in found]).update(notified_at=now)
    audit_append(
        home=resident.home_id,
        actor=by,
        action="allergy.lines_matched",
        obj=resident,
        after={
            "matches": [
                {
                    "line": m.line_id,
                    "medicine": m.line.medicine.name,
                    "allergy": m.allergy.substance,
                }
                for m in found
            ]
        },
    )
    return found


def _homely_authorisations_recheck(*, resident: Resident, allergies: list[Allergy]) -> int:
    """R-RX-11: an allergy recorded after a homely remedy was authorised. The authorisation
    shows the match (`homely_authorisations_in_force`), giving it needs a second senior's
    override (`homely_remedy_give`), and the seniors on shift are told once per match."""

    told = 0
    home = None
    for authorisation in homely_authorisations_in_force(resident):
        for allergy in authorisation.allergy_matches:
            home = home or CareHome.objects.get(pk=resident.home_id)
            notify(
                recipients=core_selectors.seniors_on_shift(home, resident.unit),
                home=home,
                kind="allergy_match",
                subject=f"homely_authorisation:{authorisation.pk}",
                window=f"allergy:{allergy.pk}",
                title=(
                    f"{resident}: the homely remedy {authorisation.remedy.medicine.name} matches "
                    f"the allergy to {allergy.substance}"
                ),
                body=(
                    "Do not give it without a second senior's check. Ask the GP or pharmacist "
                    "to review the authorisation, or withdraw it."
                ),
                link=reverse("medications:resident_profile", args=[resident.pk]),
                urgent=True,
            )
            told += 1
    return told


def _require_perm(user: User, perm: Perm, home_id: int, code: str, message: str) -> None:
    if not permissions.has_perm(user, perm, home_id):
        raise DomainError(message, code=code)


def _local_midnight(day: dt.date, home: CareHome) -> dt.datetime:
    return sched.local_to_utc(day, dt.time(0), home.tz)[0]


@dataclass
class ScheduleInput:
    """A schedule as entered: slots are (local time, Round id or None, label)."""

    slots: list[tuple[dt.time, int | None, str]]
    days: str = sched.DayRule.DAILY
    every_n: int = 1
    weekdays: list[int] = field(default_factory=list)
    month_day: int = 1
    cycle_on: int = 0
    cycle_off: int = 0
    anchor: dt.date | None = None
    dose_rule: str = sched.DoseRule.FIXED
    taper: list[tuple[int, Decimal]] = field(default_factory=list)

    def validate(self, *, anchor: dt.date) -> None:
        try:
            sched.Schedule(
                times=tuple(t for t, _, _ in self.slots),
                days=sched.DayRule(self.days),
                every_n=self.every_n,
                weekdays=frozenset(self.weekdays),
                month_day=self.month_day,
                cycle_on=self.cycle_on,
                cycle_off=self.cycle_off,
                anchor=self.anchor or anchor,
                dose_rule=sched.DoseRule(self.dose_rule),
                taper=tuple(sched.TaperStep(d, q) for d, q in self.taper),
            )
        except sched.ScheduleError as e:
            raise DomainError(str(e), code=e.code) from e
        except ValueError as e:
            raise DomainError("That schedule is not valid.", code="schedule_invalid") from e

    def version(
        self, *, line: PrescriptionLine, by: User, requested_from: dt.datetime, anchor: dt.date
    ) -> ScheduleVersion:
        return ScheduleVersion(
            line=line,
            requested_from=requested_from,
            days=self.days,
            slots=[
                {"time": t.strftime("%H:%M"), "round": r, "label": label}
                for t, r, label in sorted(self.slots, key=lambda s: s[0])
            ],
            every_n=self.every_n,
            weekdays=sorted(set(self.weekdays)),
            month_day=self.month_day,
            cycle_on=self.cycle_on,
            cycle_off=self.cycle_off,
            anchor=self.anchor or anchor,
            dose_rule=self.dose_rule,
            taper=[[int(d), str(q)] for d, q in self.taper],
            created_by=by,
        )


def _line_snapshot(line: PrescriptionLine) -> dict[str, Any]:
    return {
        "resident": line.resident_id,
        "medicine": line.medicine.name,
        "dmd_code": line.medicine.dmd_code,
        "dose": line.dose_text,
        "route": line.route,
        "prn": line.is_prn,
        "prn_min_interval_minutes": line.prn_min_interval_minutes,
        "prn_max_doses_24h": line.prn_max_doses_24h,
        "start_date": line.start_date,
        "end_date": line.end_date,
        "review_date": line.review_date,
        "indication": line.indication,
        "instructions": line.instructions,
        "prescriber": line.prescriber,
        "source": line.source,
        "time_sensitive": line.time_sensitive,
        "tolerance_minutes": line.tolerance_minutes,
        "status": line.status,
    }


def _active_allergies(resident: Resident) -> list[Allergy]:
    return list(resident.allergies.filter(removed_at__isnull=True))


@idempotent(PrescriptionLine, scope=lambda resident, **_: {"resident_id": resident.pk})
@transaction.atomic
def line_create(
    *,
    resident: Resident,
    medicine: Medicine,
    by: User,
    dose: Decimal,
    dose_unit: str,
    route: str,
    prescriber: str,
    source: str,
    start_date: dt.date,
    schedule: ScheduleInput | None,
    is_prn: bool = False,
    dose_max: Decimal | None = None,
    end_date: dt.date | None = None,
    review_date: dt.date | None = None,
    indication: str = "",
    instructions: str = "",
    source_detail: str = "",
    time_sensitive: bool = False,
    tolerance_minutes: int = 15,
    allergy_override_reason: str = "",
    prn_min_interval_minutes: int | None = None,
    prn_max_doses_24h: int | None = None,
    idempotency_key: UUID | None = None,
    sites: Sequence[SiteInput] = (),
) -> PrescriptionLine:
    """Enter a line (R-RX-2). It stays "awaiting check" until a second senior checks it
    (R-RX-4). An allergy match blocks unless a senior gives a reason to override (R-RX-5)."""
    _require_perm(
        by,
        Perm.ENTER_PRESCRIPTION,
        resident.home_id,
        "not_permitted",
        "Your role cannot enter prescriptions.",
    )
    return line_insert(
        resident=resident,
        medicine=medicine,
        by=by,
        dose=dose,
        dose_unit=dose_unit,
        route=route,
        prescriber=prescriber,
        source=source,
        start_date=start_date,
        schedule=schedule,
        is_prn=is_prn,
        dose_max=dose_max,
        end_date=end_date,
        review_date=review_date,
        indication=indication,
        instructions=instructions,
        source_detail=source_detail,
        time_sensitive=time_sensitive,
        tolerance_minutes=tolerance_minutes,
        allergy_override_reason=allergy_override_reason,
        prn_min_interval_minutes=prn_min_interval_minutes,
        prn_max_doses_24h=prn_max_doses_24h,
        idempotency_key=idempotency_key,
        sites=sites,
    )


@transaction.atomic
def line_insert(
    *,
    resident: Resident,
    medicine: Medicine,
    by: User,
    dose: Decimal,
    dose_unit: str,
    route: str,
    prescriber: str,
    source: str,
    start_date: dt.date,
    schedule: ScheduleInput | None,
    is_prn: bool = False,
    dose_max: Decimal | None = None,
    end_date: dt.date | None = None,
    review_date: dt.date | None = None,
    indication: str = "",
    instructions: str = "",
    source_detail: str = "",
    time_sensitive: bool = False,
    tolerance_minutes: int = 15,
    allergy_override_reason: str = "",
    prn_min_interval_minutes: int | None = None,
    prn_max_doses_24h: int | None = None,
    idempotency_key: UUID | None = None,
    allergy_match_blocks: bool = True,
    sites: Sequence[SiteInput] = (),
) -> PrescriptionLine:
    """The rules of a new line awaiting check (R-RX-2, R-RX-3, R-RX-5, R-RX-6), for callers
    that have already decided who may enter it: `line_create` (a senior's role) and the
    pharmacy import (`medications.services.imports`, the supplying pharmacy of the home).
    An import cannot give a senior's override, so there an allergy match does not block the
    entry (`allergy_match_blocks=False`): the check screen shows it and `line_check` refuses
    the line until a senior overrides or rejects it."""
    resident = Resident.objects.select_related("home").get(pk=resident.pk)
    home = resident.home
    if not resident.is_current:
        raise DomainError(f"{resident} is no longer resident.", code="not_resident")
    validate_not_a_container_domain(medicine.name)
    if not medicine.active:
        raise DomainError("That medicine is no longer in the catalogue.", code="medicine_inactive")
    if dose is None or dose <= 0:
        raise DomainError("The dose must be more than zero.", code="dose_positive")
    if dose_max is not None and dose_max <= dose:
        raise DomainError(
            "The upper end of a range must be more than the lower.", code="dose_range"
        )
    if end_date is not None and end_date < start_date:
        raise DomainError("The end date is before the start date.", code="end_before_start")
    if not 1 <= tolerance_minutes <= 120:
        raise DomainError("The tolerance is 1 to 120 minutes.", code="tolerance_range")
    if not prescriber.strip():
        raise DomainError("Name the prescriber.", code="prescriber_required")
    if is_prn and schedule is not None:
        raise DomainError(
            "A PRN line has no fixed schedule; its protocol says when.", code="prn_has_schedule"
        )
    if not is_prn:
        if schedule is None:
            raise DomainError("A regular line needs a schedule.", code="schedule_required")
        schedule.validate(anchor=start_date)
        prn_min_interval_minutes = prn_max_doses_24h = None
    elif (
        not (prn_min_interval_minutes and prn_max_doses_24h)
        or min(prn_min_interval_minutes, prn_max_doses_24h) < 1
    ):
        # R-RX-6: the limits are the prescriber's directions, on the line itself.
        raise DomainError(
            "Copy the prescriber's directions for this PRN medicine: the minimum time between "
            "doses and the most doses in 24 hours.",
            code="prn_limits_required",
        )
    # R-MAR-17: a cream's sites on the body map, checked with the line (R-RX-4).
    sites = line_sites_validate(
        route=route,
        is_patch=PrescriptionLine(route=route, dose_unit=dose_unit).is_patch,
        sites=sites,
    )
    matches = allergy_matches(medicine, _active_allergies(resident))
    override = allergy_override_reason.strip()
    if not allergy_match_blocks:
        matches, override = [], ""
    if matches and not override:
        names = ", ".join(a.substance for a in matches)
        raise DomainError(
            f"Allergy warning: {resident} is allergic to {names}. A senior must give a reason "
            "to override.",
            code="allergy_match",
        )
    if matches:
        _require_perm(
            by,
            Perm.CHECK_PRESCRIPTION,
            home.pk,
            "override_not_senior",
            "Only a senior can override an allergy warning.",
        )
    line = PrescriptionLine.objects.create(
        home=home,
        resident=resident,
        medicine=medicine,
        dose=dose,
        dose_max=dose_max,
        dose_unit=dose_unit,
        route=route,
        is_prn=is_prn,
        start_date=start_date,
        end_date=end_date,
        review_date=review_date,
        indication=indication.strip(),
        instructions=instructions.strip(),
        prescriber=prescriber.strip(),
        source=source,
        source_detail=source_detail.strip(),
        time_sensitive=time_sensitive,
        tolerance_minutes=tolerance_minutes,
        prn_min_interval_minutes=prn_min_interval_minutes,
        prn_max_doses_24h=prn_max_doses_24h,
        entered_by=by,
        allergy_override_reason=override if matches else "",
        allergy_override_by=by if matches else None,
        idempotency_key=idempotency_key,
    )
    if schedule is not None:
        schedule.version(
            line=line, by=by, requested_from=_local_midnight(start_date, home), anchor=start_date
        ).save()
    after = _line_snapshot(line)
    if sites:
        line_sites_store(line=line, sites=sites)
        after["sites"] = [{"site": s.site, "instructions": s.instructions} for s in sites]
    if matches:
        after["allergy_override"] = {
            "substances": [a.substance for a in matches],
            "reason": override,
        }
    audit_append(home=home, actor=by, action="prescription.entered", obj=line, after=after)
    return line


def _require_all(fields: dict[str, Any], required, *, what: str, code: str) -> None:
    """Every required field present and not blank, else one error naming the missing ones."""
    missing = [
        f
        for f in required
        if fields.get(f) in (None, "") or (isinstance(fields.get(f), str) and not fields[f].strip())
    ]
    if missing:
        raise DomainError(
            f"{what} is incomplete: " + ", ".join(m.replace("_", " ") for m in missing),
            code=code,
        )


def _doses_resync(home: CareHome, line: PrescriptionLine | None = None) -> None:
    """After a prescription change commits, bring today's and tomorrow's scheduled doses in
    line, so rounds and reminders see it at once (the beat job does it every 10 minutes too).
    The change also marks the downtime kit of the line's unit (of every unit of the home when
    the home's rounds or windows changed) in the change's own transaction (R-OFF-4)."""
    if line is not None:
        downtime_kit_mark(
            units=Resident.objects.filter(pk=line.resident_id).values_list("unit_id", flat=True)
        )
    else:
        downtime_kit_mark(units=Unit.objects.filter(home=home).values_list("pk", flat=True))

    def sync() -> None:
        today = home.local_today()
        doses_sync(home=home, start=today, end=today + dt.timedelta(days=1))

    transaction.on_commit(sync)


def validate_not_a_container_domain(name: str) -> None:
    from django.core.exceptions import ValidationError

    try:
        validate_not_a_container(name)
    except ValidationError as e:
        raise DomainError(e.messages[0], code="not_a_medicine") from e


def _locked_line(line: PrescriptionLine) -> PrescriptionLine:
    return (
        PrescriptionLine.objects.select_for_update(of=("self",))
        .select_related("resident", "medicine", "home")
        .get(pk=line.pk)
    )


def _save_keyed(line: PrescriptionLine, fields: list[str]) -> None:
    """Save a check or stop with its form's key; a key already used on another line (only a
    forged or replayed form can do that) is refused, not a crash."""
    try:
        with transaction.atomic():
            line.save(update_fields=fields)
    except IntegrityError:
        others = PrescriptionLine.objects.exclude(pk=line.pk)
        if not (
            (line.check_key and others.filter(check_key=line.check_key).exists())
            or (line.stop_key and others.filter(stop_key=line.stop_key).exists())
        ):
            raise
        raise DomainError(
            "This form was already used for another line. Reload the page and enter it again.",
            code="key_reused",
        ) from None


@transaction.atomic
def line_check(
    *,
    line: PrescriptionLine,
    by: User,
    idempotency_key: UUID | None = None,
    via_import: bool = False,
) -> PrescriptionLine:
    """Second-person check against the source (R-RX-4, R-RES-2, R-RX-5): a different senior;
    the resident's allergy status is known; any allergy match carries an override reason.
    The line's doses start from the day of the check (never a run of gaps before it).

    A line sent by the pharmacy is checked on the import screen only (`via_import`, from
    `pharmacy_import_accept`), beside the resident's current lines, so a changed line replaces
    the old one instead of running beside it (R-RX-12)."""
    line = _locked_line(line)
    if idempotency_key is not None and line.check_key == idempotency_key:
        return line  # the same check form sent twice
    if line.status != LineStatus.AWAITING_CHECK:
        raise DomainError("This line is not awaiting a check.", code="not_awaiting_check")
    if not via_import and line.source == RxSource.PHARMACY_IMPORT:
        raise DomainError(
            "This line came from the pharmacy: check it on the pharmacy import screen, beside "
            "the resident's current lines.",
            code="check_on_import_screen",
        )
    if by.pk == line.entered_by_id:
        raise DomainError("The person who entered a line cannot check it.", code="check_self")
    _require_perm(
        by,
        Perm.CHECK_PRESCRIPTION,
        line.home_id,
        "check_not_senior",
        "Only a senior carer, nurse or manager can check a line.",
    )
    resident = line.resident
    if not resident.is_current:
        raise DomainError(f"{resident} is no longer resident.", code="not_resident")
    if resident.allergy_status == AllergyStatus.UNKNOWN:
        raise DomainError(
            f"{resident}'s allergy status is unknown: record it before this line can go live.",
            code="allergy_status_unknown",
        )
    matches = allergy_matches(line.medicine, _active_allergies(resident))
    if matches and not line.allergy_override_reason:
        names = ", ".join(a.substance for a in matches)
        raise DomainError(
            f"Allergy warning: {resident} is allergic to {names}. Stop this line, or re-enter "
            "it with a senior's override reason.",
            code="allergy_match",
        )
    if matches:  # checked with a senior's override reason: the round still shows the match
        _allergy_matches_store(line, matches, by)
    now = timezone.now()
    line.status, line.checked_by, line.checked_at = LineStatus.ACTIVE, by, now
    line.check_key = idempotency_key
    _save_keyed(line, ["status", "checked_by", "checked_at", "check_key"])
    first = line.versions.filter(checked_at__isnull=True).order_by("created_at", "pk").first()
    if first is not None:
        today = _local_midnight(now.astimezone(line.home.tz).date(), line.home)
        first.checked_by, first.checked_at = by, now
        first.effective_from = max(first.requested_from, today)
        first.save(update_fields=["checked_by", "checked_at", "effective_from"])
    audit_append(
        home=line.home_id,
        actor=by,
        action="prescription.checked",
        obj=line,
        before={"status": LineStatus.AWAITING_CHECK},
        after={"status": LineStatus.ACTIVE, "entered_by": line.entered_by_id},
    )
    _doses_resync(line.home, line)
    return line


@transaction.atomic
def line_stop(
    *,
    line: PrescriptionLine,
    by: User,
    reason: str,
    authorised_by: str,
    at: dt.datetime | None = None,
    idempotency_key: UUID | None = None,
) -> PrescriptionLine:
    """Stop a line (R-RX-10): reason and who authorised it. It leaves rounds from `at` (now by
    default; may be later, never earlier) and stays on the MAR history."""
    line = _locked_line(line)
    _require_perm(
        by,
        Perm.ENTER_PRESCRIPTION,
        line.home_id,
        "not_permitted",
        "Your role cannot stop prescriptions.",
    )
    if idempotency_key is not None and line.stop_key == idempotency_key:
        return line  # the same stop form sent twice
    if line.status == LineStatus.STOPPED:
        raise DomainError("This line is already stopped.", code="already_stopped")
    if not reason.strip():
        raise DomainError("Give the reason for stopping.", code="stop_reason_required")
    if not authorised_by.strip():
        raise DomainError("Say who authorised the stop.", code="stop_authoriser_required")
    now = timezone.now()
    at = at or now
    if at < now - STOP_GRACE:
        raise DomainError(
            "A stop cannot be back-dated: it would rewrite the MAR.", code="stop_in_past"
        )
    before = line.status
    line.status, line.stopped_at, line.stopped_by = LineStatus.STOPPED, at, by
    line.stop_reason, line.stop_authorised_by = reason.strip(), authorised_by.strip()
    line.stop_key = idempotency_key
    _save_keyed(
        line,
        ["status", "stopped_at", "stopped_by", "stop_reason", "stop_authorised_by", "stop_key"],
    )
    audit_append(
        home=line.home_id,
        actor=by,
        action="prescription.stopped",
        obj=line,
        before={"status": before},
        after={
            "status": LineStatus.STOPPED,
            "at": at,
            "reason": line.stop_reason,
            "authorised_by": line.stop_authorised_by,
        },
    )
    _doses_resync(line.home, line)
    return line


@idempotent(ScheduleVersion, scope=lambda line, **_: {"line_id": line.pk})
@transaction.atomic
def schedule_change(
    *,
    line: PrescriptionLine,
    by: User,
    schedule: ScheduleInput,
    effective_from: dt.datetime | None = None,
    idempotency_key: UUID | None = None,
) -> ScheduleVersion:
    """A new schedule version (R-RX-3). It takes effect once a second senior checks it, and
    never before its check, so no dose already past is changed."""
    line = _locked_line(line)
    _require_perm(
        by,
        Perm.ENTER_PRESCRIPTION,
        line.home_id,
        "not_permitted",
        "Your role cannot change prescriptions.",
    )
    if line.status != LineStatus.ACTIVE:
        raise DomainError("Only a live line's schedule can change.", code="line_not_active")
    if line.is_prn:
        raise DomainError("A PRN line has no schedule.", code="not_regular")
    now = timezone.now()
    requested = effective_from or now
    if requested < now - STOP_GRACE:
        raise DomainError(
            "A schedule change cannot start in the past.", code="schedule_change_in_past"
        )
    if line.versions.filter(checked_at__isnull=True).exists():
        raise DomainError(
            "A schedule change is already awaiting its check.", code="schedule_change_pending"
        )
    anchor = requested.astimezone(line.home.tz).date()
    schedule.validate(anchor=anchor)
    version = schedule.version(line=line, by=by, requested_from=requested, anchor=anchor)
    version.idempotency_key = idempotency_key
    version.save()
    audit_append(
        home=line.home_id,
        actor=by,
        action="prescription.schedule_changed",
        obj=version,
        after={"line": line.pk, "schedule": version.describe, "requested_from": requested},
    )
    return version


@transaction.atomic
def schedule_version_check(*, version: ScheduleVersion, by: User) -> ScheduleVersion:
    version = ScheduleVersion.objects.select_for_update().select_related("line").get(pk=version.pk)
    if version.checked_at is not None:
        raise DomainError("This schedule was already checked.", code="not_awaiting_check")
    if by.pk == version.created_by_id:
        raise DomainError("The person who entered a change cannot check it.", code="check_self")
    _require_perm(
        by,
        Perm.CHECK_PRESCRIPTION,
        version.line.home_id,
        "check_not_senior",
        "Only a senior carer, nurse or manager can check a change.",
    )
    if version.line.status != LineStatus.ACTIVE:
        raise DomainError("The line is no longer live.", code="line_not_active")
    now = timezone.now()
    version.checked_by, version.checked_at = by, now
    version.effective_from = max(version.requested_from, now)
    version.save(update_fields=["checked_by", "checked_at", "effective_from"])
    audit_append(
        home=version.line.home_id,
        actor=by,
        action="prescription.schedule_checked",
        obj=version,
        after={"line": version.line_id, "effective_from": version.effective_from},
    )
    _doses_resync(version.line.home, version.line)
    return version


# R-RX-3: the INR a variable dose is based on. Outside these bounds it is a typing error.
INR_MIN, INR_MAX = Decimal("0.5"), Decimal("15")
INR_MAX_AGE_DAYS = 28


@idempotent(VariableDose, scope=lambda line, **_: {"line_id": line.pk})
@transaction.atomic
def variable_dose_set(
    *,
    line: PrescriptionLine,
    by: User,
    day: dt.date,
    dose: Decimal,
    inr: Decimal | None,
    inr_date: dt.date | None,
    advised_by: str,
    note: str = "",
    idempotency_key: UUID | None = None,
) -> VariableDose:
    """The dose for one day of an "as directed" line, e.g. warfarin after an INR (R-RX-3).
    Only today or later: a past day's dose is history. It records the INR (0.5 to 15), the
    test date (not in the future, at most 28 days old) and who advised the dose, and stays
    awaiting check: it reaches the round only once a second, different senior checks it
    (`variable_dose_check`, R-RX-4)."""
    line = _locked_line(line)
    _require_perm(
        by, Perm.ENTER_PRESCRIPTION, line.home_id, "not_permitted", "Your role cannot enter doses."
    )
    if line.status == LineStatus.STOPPED:
        raise DomainError("This line is stopped.", code="line_stopped")
    version = current_version(line)
    if version is None or version.dose_rule != sched.DoseRule.VARIABLE:
        raise DomainError("This line's dose is not entered per day.", code="not_variable")
    today = line.home.local_today()
    if day < today:
        raise DomainError("A past day's dose cannot be changed.", code="variable_dose_past")
    if dose is None or dose < 0:
        raise DomainError("The dose cannot be negative.", code="dose_positive")
    if inr is None:
        raise DomainError("Enter the INR result this dose is based on.", code="inr_required")
    if not (INR_MIN <= inr <= INR_MAX):
        raise DomainError(
            f"An INR of {inr} is not possible: check the result (it is between {INR_MIN} and "
            f"{INR_MAX}).",
            code="inr_out_of_range",
        )
    if inr_date is None:
        raise DomainError("Enter the date of the INR test.", code="inr_date_required")
    if inr_date > today:
        raise DomainError("The INR test date cannot be in the future.", code="inr_date_future")
    if (today - inr_date).days > INR_MAX_AGE_DAYS:
        raise DomainError(
            f"That INR result is more than {INR_MAX_AGE_DAYS} days old: ask the anticoagulation "
            "clinic or GP for a current result and dose.",
            code="inr_too_old",
        )
    advised_by = advised_by.strip()
    if not advised_by:
        raise DomainError(
            "Say who advised this dose (name and role, e.g. anticoagulation clinic nurse).",
            code="advised_by_required",
        )
    entry = VariableDose.objects.create(
        line=line,
        day=day,
        dose=dose,
        inr=inr,
        inr_date=inr_date,
        advised_by=advised_by,
        entered_by=by,
        note=note,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=line.home_id,
        actor=by,
        action="prescription.variable_dose",
        obj=entry,
        after={
            "line": line.pk,
            "day": day,
            "dose": dose,
            "inr": inr,
            "inr_date": inr_date,
            "advised_by": advised_by,
            "note": note,
        },
    )
    _doses_resync(line.home, line)
    return entry


@transaction.atomic
def variable_dose_check(*, entry: VariableDose, by: User) -> VariableDose:
    """Second-person check of a variable dose against the INR and the advice (R-RX-3,
    R-RX-4): a different senior. Only then does the dose reach the round."""
    entry = (
        VariableDose.objects.select_for_update(of=("self",))
        .select_related("line", "line__home")
        .get(pk=entry.pk)
    )
    if entry.checked_at is not None:
        raise DomainError("This dose was already checked.", code="not_awaiting_check")
    if by.pk == entry.entered_by_id:
        raise DomainError(
            "The person who entered a dose cannot check it: ask another senior.",
            code="check_self",
        )
    _require_perm(
        by,
        Perm.CHECK_PRESCRIPTION,
        entry.line.home_id,
        "check_not_senior",
        "Only a senior carer, nurse or manager can check a dose.",
    )
    if entry.line.status != LineStatus.ACTIVE:
        raise DomainError("The line is no longer live.", code="line_not_active")
    if entry.inr is None or entry.inr_date is None or not entry.advised_by:
        # Entered before R-RX-3 asked for them: nothing to check it against.
        raise DomainError(
            "This dose has no INR result or adviser recorded: enter it again with them.",
            code="inr_required",
        )
    if entry.day < entry.line.home.local_today():
        raise DomainError(
            "This dose was for a day that has passed: it can no longer be checked.",
            code="variable_dose_past",
        )
    entry.checked_by, entry.checked_at = by, timezone.now()
    entry.save(update_fields=["checked_by", "checked_at"])
    audit_append(
        home=entry.line.home_id,
        actor=by,
        action="prescription.variable_dose_checked",
        obj=entry,
        after={"line": entry.line_id, "day": entry.day, "entered_by": entry.entered_by_id},
    )
    _doses_resync(entry.line.home, entry.line)
    return entry


PRN_REQUIRED = (
    "indication",
    "dose_guidance",
    "min_interval_minutes",
    "max_doses_24h",
    "signs",
    "can_ask",
    "alternatives",
    "contact_prescriber",
    "review_date",
)


@idempotent(PrnProtocol, scope=lambda line, **_: {"line_id": line.pk})
@transaction.atomic
def prn_protocol_write(
    *, line: PrescriptionLine, by: User, idempotency_key: UUID | None = None, **fields: Any
) -> PrnProtocol:
    """A PRN protocol with every field R-RX-6 lists; a new one replaces the old, which is kept."""
    line = _locked_line(line)
    _require_perm(
        by,
        Perm.ENTER_PRESCRIPTION,
        line.home_id,
        "not_permitted",
        "Your role cannot write PRN protocols.",
    )
    if not line.is_prn:
        raise DomainError("Only a PRN line has a protocol.", code="not_prn")
    if line.status == LineStatus.STOPPED:
        raise DomainError("This line is stopped.", code="line_stopped")
    _require_all(fields, PRN_REQUIRED, what="The protocol", code="prn_protocol_incomplete")
    if fields["min_interval_minutes"] < 1 or fields["max_doses_24h"] < 1:
        raise DomainError("Interval and maximum must be at least 1.", code="prn_limits")
    if (
        line.prn_min_interval_minutes
        and fields["min_interval_minutes"] < line.prn_min_interval_minutes
    ) or (line.prn_max_doses_24h and fields["max_doses_24h"] > line.prn_max_doses_24h):
        # R-RX-6: the protocol may only be stricter than the prescriber's directions.
        raise DomainError(
            f"The prescriber's directions allow at most {line.prn_max_doses_24h} doses in 24 "
            f"hours, at least {line.prn_min_interval_minutes} minutes apart. The protocol can "
            "be stricter, never looser: ask the prescriber to change the directions first.",
            code="prn_protocol_less_strict",
        )
    if fields["review_date"] < line.home.local_today():
        raise DomainError("The review date is in the past.", code="review_date_past")
    unknown = set(fields) - set(PRN_REQUIRED)
    if unknown:
        raise DomainError("Unknown protocol field.", code="bad_field")
    protocol = PrnProtocol.objects.create(
        line=line, written_by=by, idempotency_key=idempotency_key, **fields
    )
    audit_append(
        home=line.home_id,
        actor=by,
        action="prn.protocol_written",
        obj=protocol,
        after={"line": line.pk, **fields},
    )
    return protocol


COVERT_REQUIRED = (
    "capacity_assessment",
    "capacity_assessed_on",
    "best_interests_decision",
    "best_interests_participants",
    "decided_on",
    "pharmacist_advice",
    "pharmacist",
    "review_date",
)


@idempotent(CovertPlan, scope=lambda line, **_: {"line_id": line.pk})
@transaction.atomic
def covert_plan_record(
    *, line: PrescriptionLine, by: User, idempotency_key: UUID | None = None, **fields: Any
) -> CovertPlan:
    """Attach a covert plan (R-RX-8): capacity assessment, best-interests decision and who took
    part, pharmacist advice and a review date. Only then may covert administration be
    recorded (`has_covert_plan`)."""
    line = _locked_line(line)
    _require_perm(
        by,
        Perm.ENTER_PRESCRIPTION,
        line.home_id,
        "not_permitted",
        "Your role cannot record covert plans.",
    )
    if line.status == LineStatus.STOPPED:
        raise DomainError("This line is stopped.", code="line_stopped")
    _require_all(fields, COVERT_REQUIRED, what="The covert plan", code="covert_plan_incomplete")
    today = line.home.local_today()
    if fields["capacity_assessed_on"] > today or fields["decided_on"] > today:
        raise DomainError(
            "Assessment and decision dates cannot be in the future.", code="date_future"
        )
    if fields["review_date"] < today:
        raise DomainError("The review date is in the past.", code="review_date_past")
    plan = CovertPlan.objects.create(
        line=line, recorded_by=by, idempotency_key=idempotency_key, **fields
    )
    audit_append(
        home=line.home_id,
        actor=by,
        action="covert.plan_recorded",
        obj=plan,
        after={"line": line.pk, **fields},
    )
    _doses_resync(line.home, line)
    return plan


@idempotent(SelfAdminAssessment, scope=lambda line, **_: {"line_id": line.pk})
@transaction.atomic
def self_admin_assess(
    *,
    line: PrescriptionLine,
    by: User,
    has_capacity: bool,
    dexterity_ok: bool,
    storage_ok: bool,
    low_risk_to_others: bool,
    self_administers: bool,
    review_date: dt.date,
    notes: str = "",
    idempotency_key: UUID | None = None,
) -> SelfAdminAssessment:
    """Self-administration risk assessment (R-RX-9). Approval needs every answer to be safe."""
    line = _locked_line(line)
    _require_perm(
        by,
        Perm.ENTER_PRESCRIPTION,
        line.home_id,
        "not_permitted",
        "Your role cannot assess self-administration.",
    )
    if line.status == LineStatus.STOPPED:
        raise DomainError("This line is stopped.", code="line_stopped")
    if self_administers and not all((has_capacity, dexterity_ok, storage_ok, low_risk_to_others)):
        raise DomainError(
            "Self-administration needs capacity, dexterity, safe storage and low risk to others.",
            code="self_admin_risk",
        )
    if review_date < line.home.local_today():
        raise DomainError("The review date is in the past.", code="review_date_past")
    assessment = SelfAdminAssessment.objects.create(
        line=line,
        assessed_by=by,
        has_capacity=has_capacity,
        dexterity_ok=dexterity_ok,
        storage_ok=storage_ok,
        low_risk_to_others=low_risk_to_others,
        self_administers=self_administers,
        review_date=review_date,
        notes=notes,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=line.home_id,
        actor=by,
        action="self_admin.assessed",
        obj=assessment,
        after={
            "line": line.pk,
            "self_administers": self_administers,
            "has_capacity": has_capacity,
            "dexterity_ok": dexterity_ok,
            "storage_ok": storage_ok,
            "low_risk_to_others": low_risk_to_others,
            "review_date": review_date,
        },
    )
    _doses_resync(line.home, line)
    return assessment
