"""Reads for the round screen (R-MAR-1): one unit, one round, one day, in room order, with a
constant number of queries whatever the number of residents or their history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from types import SimpleNamespace

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.html import format_html_join

from emar.models import CareHome, NonAdministrationCode, Round, Unit, User
from residents.models import Absence, AbsenceKind, Allergy, Resident, ResidentStatus, room_order
from training.services import check_administration

from . import selectors
from .bodymap import uses_body_map
from .models import Administration, Outcome, PaperRound, PrescriptionLine, ScheduledDose

room_key = room_order  # natural order of any room label ("2" before "10", "A1", "Room 3")


class ReasonCodes:
    """The home's active reason codes (R-MAR-3), read when first used (a row with a final
    record offers none), with their <option>s built once for the page: every open dose of a
    round offers them (SPEC §11)."""

    def __init__(self, home: CareHome) -> None:
        self.home = home

    @cached_property
    def codes(self) -> list[NonAdministrationCode]:
        return list(NonAdministrationCode.objects.filter(home=self.home, active=True))

    def __iter__(self):
        return iter(self.codes)

    @cached_property
    def options(self) -> str:
        return format_html_join(
            "",
            '<option value="{}">{} — {}{}</option>',
            ((c.pk, c.code, c.label, " (note needed)" if c.note_required else "") for c in self),
        )


def current_round(home: CareHome, rounds: list[Round], now: dt.datetime) -> Round | None:
    """The round whose time is nearest to now, local time."""
    return selectors.nearest_round(now.astimezone(home.tz).time(), rounds)


@dataclass
class DoseState:
    """Where one scheduled dose stands, for the screen (R-MAR-2)."""

    dose: ScheduledDose
    state: str  # given | not_given | self | upcoming | due | missed
    record: Administration | None = None  # the record in force (after corrections)
    retry: Administration | None = None  # e.g. "S asleep" before the final record
    history: list[Administration] = field(default_factory=list)
    stock_level: object = None  # set by round_screen for every row at once (R-STK-2)
    blocked: str = ""  # why the viewer may not record this dose, and who can help (R-MAR-13)
    allergy: str = ""  # the recorded allergies this line matches (R-MAR-16)
    opened_state: object = None  # set by round_screen for every row at once (R-STK-7)

    @property
    def stock(self):
        """The line's stock balance and days left; one query when not preset (a single row)."""
        if self.stock_level is None:
            from .services import stock_levels

            today = self.dose.home.local_today()
            self.stock_level = stock_levels(line_ids=[self.dose.line_id], today=today).get(
                self.dose.line_id, False
            )
        return self.stock_level or None

    @property
    def opened(self):
        """The line's opened pack and its in-use expiry (R-STK-7); None when its opening is
        not recorded. One query when not preset (a single row)."""
        if self.opened_state is None:
            from .services import opened_states

            today = self.dose.home.local_today()
            line = self.dose.line
            self.opened_state = opened_states(lines=[line], today=today)[line.pk] or False
        return self.opened_state or None

    @property
    def label(self) -> str:
        return {
            "given": "Given",
            "not_given": "Not given",
            "self": "Self-administered",
            "upcoming": "Upcoming",
            "due": "Due now",
            "missed": "Missed — overdue",
        }[self.state]

    @property
    def css(self) -> str:
        return {
            "given": "success",
            "not_given": "warning",
            "self": "info",
            "upcoming": "secondary",
            "due": "primary",
            "missed": "danger",
        }[self.state]

    @property
    def open(self) -> bool:
        """Can still be recorded (nothing final yet)."""
        return self.record is None and self.state != "self"

    @property
    def can_record(self) -> bool:
        """Open, and the viewer passes the training gate: read-only otherwise (R-MAR-13)."""
        return self.open and not self.blocked

    @property
    def late(self) -> bool:
        return self.state == "missed"


def viewer_checks(
    states: list[DoseState],
    *,
    home: CareHome,
    viewer: User,
    now: dt.datetime,
    allergies: dict[int, list],
) -> list[str]:
    """Mark each dose the viewer may not record (R-MAR-13) and each line matching a recorded
    allergy (R-MAR-16). One gate check per kind of medicine; returns the gate messages."""
    categories = sorted({c for d in states for c in d.dose.line.competency_categories()})
    refusals = {
        c: refusal.message
        for c in categories
        if (refusal := check_administration(person=viewer, home=home, category=c, at=now))
    }
    for d in states:
        line = d.dose.line
        d.blocked = next((refusals[c] for c in line.competency_categories() if c in refusals), "")
        found = selectors.allergy_matches(line.medicine, allergies.get(d.dose.resident_id, []))
        d.allergy = ", ".join(a.substance for a in found)
    return list(refusals.values())


def dose_state(
    dose: ScheduledDose, now: dt.datetime, records: list[Administration] | None = None
) -> DoseState:
    if records is None:  # prefetched by `doses_with_records`, oldest first
        records = getattr(dose, RECORDS, None)
    if records is None:
        records = list(dose.administrations.order_by("recorded_at", "pk"))
    corrected = {r.corrects_id for r in records if r.corrects_id}
    in_force = [r for r in records if r.pk not in corrected]
    final = [r for r in in_force if r.final]
    # A void ("recorded in error", R-MAR-4) closes nothing: the dose is open again.
    retry = next((r for r in reversed(in_force) if not r.final and not r.is_void), None)
    record = final[-1] if final else None
    state = state_of(record.outcome if record else None, dose.self_administered, now, dose)
    return DoseState(dose, state, record, retry, records)


def state_of(outcome: str | None, self_administered: bool, now: dt.datetime, window) -> str:
    """A dose's state from the outcome of its final record in force (None: there is none),
    for the rows (`dose_state`) and the header counts (`round_counts`) alike. `window` has the
    dose's `window_opens` and `window_closes`."""
    if outcome is not None:
        return "given" if outcome == Outcome.GIVEN else "not_given"
    if self_administered:
        return "self"
    if now < window.window_opens:
        return "upcoming"
    return "due" if now <= window.window_closes else "missed"


RECORDS = selectors.LOADED_RECORDS


def doses_with_records() -> Prefetch:
    return Prefetch(
        "administrations",
        queryset=Administration.objects.select_related("recorded_by", "witness", "code").order_by(
            "recorded_at", "pk"
        ),
        to_attr=RECORDS,
    )


def refresh_records(dose: ScheduledDose) -> None:
    """Reload one dose's records after a write (one query), keeping what else was loaded."""
    from django.db.models import prefetch_related_objects

    dose.__dict__.pop(RECORDS, None)
    prefetch_related_objects([dose], doses_with_records())


def dose_for_row(dose_id: int) -> QuerySet[ScheduledDose]:
    return (
        ScheduledDose.objects.filter(pk=dose_id)
        .select_related("line", "line__medicine", "resident", "home")
        .prefetch_related(
            doses_with_records(), selectors.allergy_matches_prefetch("line__allergy_matches")
        )
    )


@dataclass
class ResidentRound:
    resident: Resident
    doses: list[DoseState]
    prn: list[PrescriptionLine]

    @property
    def away(self) -> str:
        """ "In hospital", "On leave"...: the resident is away now (R-RES-6); the round shows
        them as away, with no Given / Not given buttons (their doses are coded H or L)."""
        kind = getattr(self.resident, "away_kind", None)
        return AbsenceKind(kind).label if kind else ""

    @property
    def away_since(self) -> dt.datetime | None:
        return getattr(self.resident, "away_since", None)


@dataclass
class RoundScreen:
    home: CareHome
    unit: Unit
    round: Round | None
    day: dt.date
    now: dt.datetime
    rounds: list[Round]
    units: list[Unit]
    residents: list[ResidentRound]
    codes: ReasonCodes
    follow_ups_due: list[Administration]
    gate: list[str]  # why the viewer cannot record some kinds of dose
    last_sites: dict[int, str]  # line id -> where the last patch or application went

    @property
    def counts(self) -> dict[str, int]:
        return count_states(d for r in self.residents for d in r.doses)


def count_states(states) -> dict[str, int]:
    """How many doses in each state: the round's header ("3 due now · 1 given...")."""
    result: dict[str, int] = {}
    for d in states:
        result[d.state] = result.get(d.state, 0) + 1
    return result


def round_counts(*, dose: ScheduledDose, whole_day: bool, now: dt.datetime) -> dict[str, int]:
    """The header counts of the round page `dose` is shown on, after recording it: its round
    (or, when the page shows the whole day, its day), its unit, residents who live here — the
    doses `round_screen` shows. One query, of values (no record is loaded), so a recording
    answers with the counts instead of the page fetching itself again (SPEC §11)."""
    corrected = Administration.objects.filter(corrects=OuterRef("pk"))
    in_force = (
        Administration.objects.filter(dose=OuterRef("pk"), final=True)
        .exclude(Exists(corrected))
        .order_by("-recorded_at", "-pk")
    )
    doses = ScheduledDose.objects.filter(
        unit_id=dose.unit_id,
        cancelled_at__isnull=True,
        resident__status=ResidentStatus.RESIDENT,
        resident__unit_id=dose.unit_id,
    )
    doses = (
        doses.filter(local_date=dose.local_date)
        if whole_day or dose.round_id is None
        else doses.filter(round_id=dose.round_id, round_date=dose.round_date)
    )
    rows = doses.annotate(outcome=Subquery(in_force.values("outcome")[:1])).values(
        "outcome", "self_administered", "window_opens", "window_closes"
    )
    counts: dict[str, int] = {}
    for row in rows:
        state = state_of(row["outcome"], row["self_administered"], now, SimpleNamespace(**row))
        counts[state] = counts.get(state, 0) + 1
    return counts


def round_screen(
    *,
    home: CareHome,
    unit: Unit,
    round_: Round | None,
    day: dt.date,
    viewer: User,
    rounds: list[Round],
    now: dt.datetime | None = None,
    units: list[Unit] | None = None,
) -> RoundScreen:
    """`units`: the home's units in name order, when the caller has read them already."""
    now = now or timezone.now()
    doses = (
        ScheduledDose.objects.filter(unit=unit, cancelled_at__isnull=True)
        .select_related("line", "line__medicine")
        .prefetch_related(
            doses_with_records(), selectors.allergy_matches_prefetch("line__allergy_matches")
        )
        .order_by("due_at", "line__medicine__name")
    )
    # A round is a session: the night round of the 25th includes a 01:30 dose on the 26th.
    doses = (
        doses.filter(round=round_, round_date=day)
        if round_ is not None
        else doses.filter(local_date=day)
    )
    by_resident: dict[int, list[DoseState]] = {}
    for dose in doses:
        by_resident.setdefault(dose.resident_id, []).append(dose_state(dose, now))
    prn_by_resident: dict[int, list[PrescriptionLine]] = {}
    for line in selectors.prn_lines(home=home, unit=unit):
        prn_by_resident.setdefault(line.resident_id, []).append(line)
    # R-RES-6: who is away at this moment, in the same query (subqueries).
    away = Absence.objects.filter(resident_id=OuterRef("pk"), started_at__lte=now).filter(
        Q(returned_at__isnull=True) | Q(returned_at__gt=now)
    )
    residents = sorted(
        Resident.objects.filter(unit=unit, status=ResidentStatus.RESIDENT)
        .annotate(
            away_kind=Subquery(away.values("kind")[:1]),
            away_since=Subquery(away.values("started_at")[:1]),
        )
        .prefetch_related(
            Prefetch(
                "allergies",
                queryset=Allergy.objects.filter(removed_at__isnull=True),
                to_attr="active_allergies",
            )
        )
        .order_by("full_name"),
        key=lambda r: (room_key(r.room), r.full_name),
    )
    rows = [
        ResidentRound(r, by_resident.get(r.pk, []), prn_by_resident.get(r.pk, []))
        for r in residents
    ]
    follow_ups = list(
        Administration.objects.filter(
            home=home,
            resident__unit=unit,
            line__is_prn=True,
            outcome=Outcome.GIVEN,
            follow_up__isnull=True,
            corrected_by__isnull=True,
            administered_at__gte=now - dt.timedelta(hours=24),
            administered_at__lte=now - dt.timedelta(minutes=60),
        ).select_related("resident", "line", "line__medicine", "recorded_by")
    )
    gate = viewer_checks(
        [d for row in rows for d in row.doses],
        home=home,
        viewer=viewer,
        now=now,
        allergies={r.pk: r.active_allergies for r in residents},
    )
    from .services import last_sites, needs_site

    site_lines = {d.dose.line_id for row in rows for d in row.doses if needs_site(d.dose.line)}
    from .services import stock_levels

    levels = stock_levels(
        line_ids=sorted({d.dose.line_id for row in rows for d in row.doses}),
        today=now.astimezone(home.tz).date(),
    )
    from .services import opened_states

    opened = opened_states(
        lines=list({d.dose.line_id: d.dose.line for row in rows for d in row.doses}.values()),
        today=now.astimezone(home.tz).date(),
    )
    # R-MAR-17: every cream's prescribed sites in one query, for the body maps of its rows.
    topical = {d.dose.line_id for row in rows for d in row.doses if uses_body_map(d.dose.line)}
    sites = selectors.body_map_sites(sorted(topical)) if topical else {}
    for d in (d for row in rows for d in row.doses):
        d.stock_level = levels.get(d.dose.line_id, False)
        d.opened_state = opened.get(d.dose.line_id) or False
        if d.dose.line_id in sites:
            setattr(d.dose.line, "prescribed_sites", sites[d.dose.line_id])  # noqa: B010
    return RoundScreen(
        home=home,
        unit=unit,
        round=round_,
        day=day,
        now=now,
        rounds=rounds,
        units=units if units is not None else list(Unit.objects.filter(home=home).order_by("name")),
        residents=rows,
        codes=ReasonCodes(home),
        follow_ups_due=follow_ups,
        gate=sorted(set(gate)),
        last_sites=last_sites(sorted(site_lines)) if site_lines else {},
    )


def paper_round_rows(paper_round: PaperRound, now: dt.datetime) -> list[DoseState]:
    """The back-entry screen (R-OFF-4): one row per dose of the paper period (due from the
    switch to paper until the switch back, or now), with its record if one was made."""
    end = paper_round.ended_at or now
    doses = (
        ScheduledDose.objects.filter(
            unit_id=paper_round.unit_id,
            due_at__gte=paper_round.started_at,
            due_at__lte=end,
            cancelled_at__isnull=True,
        )
        .select_related("resident", "line", "line__medicine", "home")
        .prefetch_related(doses_with_records())
        .order_by("due_at", "resident__full_name", "pk")
    )
    return [dose_state(d, now) for d in doses]
