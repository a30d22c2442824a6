"""Reads of prescriptions, already narrowed to one home and `select_related`.

`doses_due` is what the round screen and the MAR are built on: the doses of live lines of
current residents, from the pure `schedule.expand_versions`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, TypedDict

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery

from emar.models import CareHome, Round, Unit
from residents.models import Allergy, Reconciliation, Resident, ResidentStatus

from . import schedule as sched
from .models import (
    CovertPlan,
    LineAllergyMatch,
    LineRestart,
    LineSite,
    LineStatus,
    Medicine,
    PrescriptionLine,
    PrnProtocol,
    RxSource,
    ScheduledDose,
    ScheduleVersion,
    SelfAdminAssessment,
    VariableDose,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _LiveLineAttrs(TypedDict):
    """What `_live_lines` prefetches onto each line (`to_attr`)."""

    live_versions: list[ScheduleVersion]  # checked versions, oldest first
    window_variable_doses: list[VariableDose]  # entered for the days expanded
    plans: list[CovertPlan]
    assessments: list[SelfAdminAssessment]  # newest first


if TYPE_CHECKING:
    LiveLine = WithAnnotations[PrescriptionLine, _LiveLineAttrs]


@dataclass(frozen=True)
class DueDose:
    """One scheduled dose of one line (R-MAR-2). `key` is stable for the same line and time."""

    line: PrescriptionLine
    resident: Resident
    at: dt.datetime  # aware UTC
    local_date: dt.date
    local_time: dt.time
    dose: Decimal | None  # None: a range (see dose_text) or a variable dose not yet entered
    dose_text: str
    label: str
    shifted: bool
    needs_dose_entry: bool  # variable dose with no dose entered for the day
    self_administered: bool  # R-RX-9: shown as such, never as a gap
    covert: bool  # a covert plan is attached (R-RX-8)
    time_sensitive: bool
    tolerance_minutes: int  # the line's own (R-RX-7) or the home's dose window

    @property
    def key(self) -> str:
        return f"{self.line.pk}:{self.at.isoformat()}"


# The attribute a dose's records are prefetched to, oldest first (`rounds.doses_with_records`):
# a list, as a prefetch without `to_attr` builds a queryset per dose (SPEC §11).
LOADED_RECORDS = "loaded_records"


def medicines_search(query: str = "", limit: int = 400) -> QuerySet[Medicine]:
    qs = Medicine.objects.filter(active=True)
    for word in query.split()[:5]:
        qs = qs.filter(Q(name__icontains=word) | Q(ingredients__icontains=word))
    return qs.order_by("name")[:limit]


def _latest_self_admin() -> Prefetch[
    Literal["self_admin_assessments"], QuerySet[SelfAdminAssessment], Literal["assessments"]
]:
    return Prefetch(
        "self_admin_assessments",
        queryset=SelfAdminAssessment.objects.order_by("-assessed_at", "-pk"),
        to_attr="assessments",
    )


def lines_of(resident: Resident) -> QuerySet[PrescriptionLine]:
    """Every line of a resident, live first, with what the profile shows about each."""
    return (
        PrescriptionLine.objects.filter(resident=resident)
        .select_related("medicine", "entered_by", "checked_by", "stopped_by", "allergy_override_by")
        .prefetch_related(
            Prefetch("versions", queryset=ScheduleVersion.objects.order_by("created_at", "pk")),
            Prefetch("protocols", queryset=PrnProtocol.objects.order_by("-written_at", "-pk")),
            Prefetch("covert_plans", queryset=CovertPlan.objects.order_by("-recorded_at", "-pk")),
            _latest_self_admin(),
        )
        .order_by("status", "medicine__name", "pk")
    )


def lines_awaiting_check(home: CareHome) -> QuerySet[PrescriptionLine]:
    return (
        PrescriptionLine.objects.filter(home=home, status=LineStatus.AWAITING_CHECK)
        .exclude(source=RxSource.PHARMACY_IMPORT)  # checked on the pharmacy import screen
        .select_related("resident", "resident__unit", "medicine", "entered_by")
        .order_by("entered_at")
    )


def schedule_changes_awaiting_check(home: CareHome) -> QuerySet[ScheduleVersion]:
    return (
        ScheduleVersion.objects.filter(
            line__home=home, checked_at__isnull=True, line__status=LineStatus.ACTIVE
        )
        .select_related("line", "line__resident", "line__medicine", "created_by")
        .order_by("created_at")
    )


def variable_doses_awaiting_check(home: CareHome) -> QuerySet[VariableDose]:
    """Variable doses (warfarin by INR) entered for today or later and not yet checked by a
    second senior (R-RX-3, R-RX-4)."""
    return (
        VariableDose.objects.filter(
            line__home=home,
            checked_at__isnull=True,
            line__status=LineStatus.ACTIVE,
            day__gte=home.local_today(),
        )
        .select_related("line", "line__resident", "line__medicine", "entered_by")
        .order_by("day", "entered_at")
    )


def resident_flags(home: CareHome, resident_ids: list[int]) -> dict[int, dict[str, bool]]:
    """Per resident: has a live covert line, a self-administered line (two queries)."""
    live = PrescriptionLine.objects.filter(
        home=home, resident_id__in=resident_ids, status=LineStatus.ACTIVE
    )
    covert = set(
        live.filter(Exists(CovertPlan.objects.filter(line=OuterRef("pk")))).values_list(
            "resident_id", flat=True
        )
    )
    latest = SelfAdminAssessment.objects.filter(line=OuterRef("line_id")).order_by(
        "-assessed_at", "-pk"
    )
    self_admin = set(
        SelfAdminAssessment.objects.filter(
            line__in=live, pk=latest.values("pk")[:1], self_administers=True
        ).values_list("line__resident_id", flat=True)
    )
    return {rid: {"covert": rid in covert, "self_admin": rid in self_admin} for rid in resident_ids}


def overdue_plans(home: CareHome, today: dt.date) -> dict[str, list]:
    """Covert plans and PRN protocols whose review date has passed, on live lines (R-RX-8)."""
    live = PrescriptionLine.objects.filter(home=home, status=LineStatus.ACTIVE)
    result: dict[str, list] = {"covert": [], "prn": []}
    for key, model, order in (
        ("covert", CovertPlan, "-recorded_at"),
        ("prn", PrnProtocol, "-written_at"),
    ):
        latest: dict[int, CovertPlan | PrnProtocol] = {}
        for row in (
            model.objects.filter(line__in=live)
            .select_related("line", "line__resident", "line__medicine")
            .order_by("line_id", order, "-pk")
        ):
            latest.setdefault(row.line_id, row)
        result[key] = [r for r in latest.values() if r.review_date < today]
    return result


def with_hold(qs: QuerySet[PrescriptionLine]) -> QuerySet[PrescriptionLine]:
    """Annotate each line with its latest hold (R-RES-6, H-16): `held_from`, the return or
    readmission after the line was entered, and `held_until`, when a senior confirmed the line
    in that reconciliation (None: still held). No extra query: two subqueries."""
    hold = Reconciliation.objects.filter(
        resident_id=OuterRef("resident_id"),
        lines_held_from__isnull=False,
        lines_held_from__gt=OuterRef("entered_at"),
    ).order_by("-lines_held_from", "-pk")
    restart = LineRestart.objects.filter(
        line_id=OuterRef("pk"), reconciliation__lines_held_from=OuterRef("held_from")
    )
    return qs.annotate(held_from=Subquery(hold.values("lines_held_from")[:1])).annotate(
        held_until=Subquery(restart.values("confirmed_at")[:1])
    )


def is_held(line: PrescriptionLine, at: dt.datetime) -> bool:
    """A dose at `at` of an annotated line (`with_hold`) is held, not due (R-RES-6)."""
    held_from = getattr(line, "held_from", None)
    if held_from is None or at < held_from:
        return False
    held_until = getattr(line, "held_until", None)
    return held_until is None or at < held_until


def _live_lines(
    home: CareHome,
    unit: Unit | None,
    start: dt.date,
    end: dt.date,
    window_start: dt.datetime,
    resident: Resident | None = None,
) -> QuerySet[LiveLine]:
    qs = PrescriptionLine.objects.filter(
        home=home,
        is_prn=False,
        resident__status=ResidentStatus.RESIDENT,
        start_date__lte=end,
    ).exclude(status=LineStatus.AWAITING_CHECK)
    # No allergy status change removes a dose (R-RES-2, R-MAR-16, H-11): an unknown status
    # blocks activating a line (line_check), never a live line's doses.
    qs = qs.filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
    qs = qs.filter(Q(stopped_at__isnull=True) | Q(stopped_at__gt=window_start))
    if unit is not None:
        qs = qs.filter(resident__unit=unit)
    if resident is not None:
        qs = qs.filter(resident=resident)
    # One Prefetch a call: in one call the stubs join their types (IdempotentRecord) and lose
    # what each `to_attr` holds.
    qs = with_hold(qs)
    return (
        qs.select_related("medicine", "resident", "resident__unit")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=ScheduleVersion.objects.filter(effective_from__isnull=False).order_by(
                    "effective_from"
                ),
                to_attr="live_versions",
            )
        )
        .prefetch_related(
            Prefetch(
                "variable_doses",
                queryset=VariableDose.objects.filter(day__gte=start, day__lte=end).order_by(
                    "day", "entered_at", "pk"
                ),
                to_attr="window_variable_doses",
            )
        )
        .prefetch_related(
            Prefetch(
                "covert_plans", queryset=CovertPlan.objects.only("pk", "line_id"), to_attr="plans"
            )
        )
        .prefetch_related(_latest_self_admin())
    )


def _expand_line(
    line: LiveLine,
    start: dt.date,
    end: dt.date,
    tz: dt.tzinfo,
    rounds: dict[int, Round],
) -> list[sched.ScheduledDose]:
    first = max(start, line.start_date)
    last = min(end, line.end_date) if line.end_date else end
    if last < first or not line.live_versions:
        return []
    variable: dict[dt.date, Decimal] = {}
    for entry in line.window_variable_doses:
        # The latest entry for a day wins, but only once a second senior has checked it
        # (R-RX-3, R-RX-4): a newer unchecked entry leaves the day without a dose to give.
        if entry.checked_at is not None:
            variable[entry.day] = entry.dose
        else:
            variable.pop(entry.day, None)
    dose = line.dose if line.dose_max is None else None
    versions = []
    for v in line.live_versions:
        assert v.effective_from is not None, "live_versions holds effective versions only"
        versions.append(
            sched.Version(
                v.effective_from, v.to_schedule(dose=dose, rounds=rounds, variable=variable)
            )
        )
    return sched.expand_versions(versions, first, last, tz, until=line.stopped_at)


def doses_due(
    *,
    home: CareHome,
    start: dt.date,
    end: dt.date,
    unit: Unit | None = None,
    resident: Resident | None = None,
) -> list[DueDose]:
    """Scheduled doses of local days `start`..`end` (inclusive) for a home or one unit, in time
    then room order. Nothing is due for a line that is awaiting its check (R-RX-4), PRN
    (offered from `prn_lines`, never scheduled; R-RX-6), stopped (from the stop time, R-RX-10),
    or whose resident no longer lives here (R-RES-5), nor while a line is held after a return
    or readmission until a senior confirms it (R-RES-6). A live line stays due whatever happens to
    the allergy status (R-MAR-16, H-11). A constant number of queries whatever the number of
    residents.
    """
    tz = home.tz
    window_start = sched.local_to_utc(start, dt.time(0), tz)[0]
    rounds = {r.pk: r for r in Round.objects.filter(home=home)}
    result: list[DueDose] = []
    for line in _live_lines(home, unit, start, end, window_start, resident):
        assessments = line.assessments
        self_admin = bool(assessments) and assessments[0].self_administers
        variable_rule = any(v.dose_rule == sched.DoseRule.VARIABLE for v in line.live_versions)
        for d in _expand_line(line, start, end, tz, rounds):
            if is_held(line, d.at):
                continue  # R-RES-6: back from an absence, not yet confirmed by a senior
            needs_entry = variable_rule and d.dose is None
            if d.dose is not None and d.dose != line.dose:
                text = f"{_num(d.dose)} {line.get_dose_unit_display()}"
            elif needs_entry and any(
                e.day == d.local_date and e.checked_at is None for e in line.window_variable_doses
            ):
                text = "dose awaiting a second senior's check: ask the senior on shift"
            elif needs_entry:
                text = "dose not entered: ask the senior on shift"
            else:
                text = line.dose_text
            result.append(
                DueDose(
                    line=line,
                    resident=line.resident,
                    at=d.at,
                    local_date=d.local_date,
                    local_time=d.local_time,
                    dose=d.dose,
                    dose_text=text,
                    label=d.label,
                    shifted=d.shifted,
                    needs_dose_entry=needs_entry,
                    self_administered=self_admin,
                    covert=bool(line.plans),
                    time_sensitive=line.time_sensitive,
                    tolerance_minutes=(
                        line.tolerance_minutes if line.time_sensitive else home.dose_window_minutes
                    ),
                )
            )
    result.sort(key=lambda d: (d.at, d.resident.room, d.resident.full_name, d.line.pk))
    return result


def allergy_matches_prefetch(path: str = "allergy_matches") -> Prefetch:
    """A line's stored allergy matches whose allergy is still recorded, as
    `line.current_allergy_matches` (R-RX-11): one query for any number of lines."""
    return Prefetch(
        path,
        queryset=LineAllergyMatch.objects.filter(allergy__removed_at__isnull=True)
        .select_related("allergy")
        .order_by("allergy__substance"),
        to_attr="current_allergy_matches",
    )


def prn_lines(*, home: CareHome, unit: Unit | None = None) -> QuerySet[PrescriptionLine]:
    """PRN lines that may be offered now: live, checked, with a protocol (R-RX-6), for current
    residents. An unknown allergy status does not take a PRN line away (R-MAR-16): the page
    warns that a senior must resolve it."""
    qs = PrescriptionLine.objects.filter(
        home=home,
        is_prn=True,
        status=LineStatus.ACTIVE,
        resident__status=ResidentStatus.RESIDENT,
    )
    qs = qs.filter(Exists(PrnProtocol.objects.filter(line=OuterRef("pk"))))
    if unit is not None:
        qs = qs.filter(resident__unit=unit)
    return qs.select_related("medicine", "resident", "resident__unit").prefetch_related(
        Prefetch("protocols", queryset=PrnProtocol.objects.order_by("-written_at", "-pk")),
        allergy_matches_prefetch(),
    )


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


def doses_by_resident(doses: list[DueDose]) -> dict[int, list[DueDose]]:
    grouped: dict[int, list[DueDose]] = defaultdict(list)
    for d in doses:
        grouped[d.resident.pk].append(d)
    return grouped


# An allergy to a class names none of its members, so "penicillin" must also catch amoxicillin.
ALLERGY_CLASSES: dict[str, frozenset[str]] = {
    "penicillin": frozenset(
        {
            "amoxicillin",
            "ampicillin",
            "flucloxacillin",
            "phenoxymethylpenicillin",
            "benzylpenicillin",
            "piperacillin",
            "co-amoxiclav",
            "penicillin",
        }
    ),
    "nsaid": frozenset(
        {
            "ibuprofen",
            "naproxen",
            "diclofenac",
            "aspirin",
            "celecoxib",
            "etoricoxib",
            "mefenamic acid",
        }
    ),
    "opioid": frozenset(
        {
            "morphine",
            "codeine",
            "dihydrocodeine",
            "oxycodone",
            "fentanyl",
            "buprenorphine",
            "diamorphine",
            "tramadol",
            "alfentanil",
            "tapentadol",
        }
    ),
}
ALLERGY_CLASS_WORDS = {
    "penicillin": "penicillin",
    "penicillins": "penicillin",
    "nsaid": "nsaid",
    "nsaids": "nsaid",
    "non-steroidal anti-inflammatory": "nsaid",
    "opioid": "opioid",
    "opioids": "opioid",
    "opiate": "opioid",
    "opiates": "opioid",
}


def _contains(haystack: str, needle: str) -> bool:
    return (
        bool(needle) and re.search(rf"(?<![a-z]){re.escape(needle)}(?![a-z])", haystack) is not None
    )


def allergy_matches(medicine: Medicine, allergies: list[Allergy]) -> list[Allergy]:
    """Recorded allergies that match the product name or an ingredient, case-insensitive
    (R-RX-5). Whole words only, so "iron" does not match "environment"; class allergies such as
    penicillin match their members."""
    name = medicine.name.lower()
    ingredients = medicine.ingredient_list
    found: list[Allergy] = []
    for allergy in allergies:
        if allergy.removed_at is not None:
            continue
        substance = " ".join(allergy.substance.lower().split())
        terms = {substance}
        for word, cls in ALLERGY_CLASS_WORDS.items():
            if _contains(substance, word):
                terms |= ALLERGY_CLASSES[cls]
        hit = any(_contains(name, t) or any(_contains(i, t) for i in ingredients) for t in terms)
        hit = hit or any(_contains(substance, i) for i in ingredients)
        if hit:
            found.append(allergy)
    return found


def current_version(line: PrescriptionLine) -> ScheduleVersion | None:
    return (
        line.versions.filter(effective_from__isnull=False).order_by("-effective_from").first()
        or line.versions.order_by("created_at").first()
    )


def has_covert_plan(line: PrescriptionLine) -> bool:
    """Covert administration may be recorded only with a plan attached (R-RX-8). An overdue
    review raises an alert but does not stop a resident getting their medicine."""
    return line.covert_plans.exists()


# --- Doses as the prescriptions schedule them (R-MAR-2, H-10) ---


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


def doses_projected(
    *, home: CareHome, start: dt.date, end: dt.date, resident=None, unit: Unit | None = None
) -> list[ScheduledDose]:
    """The doses the prescriptions schedule for `start`..`end`, as unsaved rows that are never
    written: what a chart or the downtime MAR shows for days after `sync_window` (H-10)."""
    rounds = list(Round.objects.filter(home=home))
    return [
        ScheduledDose(**scheduled_dose_fields(d, home, rounds))
        for d in doses_due(home=home, start=start, end=end, unit=unit, resident=resident)
        if not (
            d.line.checked_at
            and d.at + dt.timedelta(minutes=d.tolerance_minutes) < d.line.checked_at
        )
    ]


SCHEDULED_DOSE_FIELDS = (
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


def scheduled_dose_fields(d: DueDose, home: CareHome, rounds: list[Round]) -> dict:
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


def body_map_sites(line_ids: list[int]) -> dict[int, list[LineSite]]:
    """The body map sites each topical line prescribes, in the line's order (R-MAR-17)."""
    result: dict[int, list[LineSite]] = {pk: [] for pk in line_ids}
    for site in LineSite.objects.filter(line_id__in=line_ids).order_by("line", "position", "pk"):
        result[site.line_id].append(site)
    return result
