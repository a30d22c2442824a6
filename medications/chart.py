"""The MAR chart: a resident's lines as rows and days as columns, like a paper MAR (R-MAR-12).

`mar_chart(resident=, start=, days=)` is a pure read in a constant number of queries (about
eight, whatever the number of lines, days or records; a handful more when the period reaches
past tomorrow). It works from the materialised scheduled doses (`doses_sync`), so what the
chart shows is what the round screen showed; days after the beat job's window (local
yesterday..tomorrow) show the doses the prescriptions schedule, projected and never written.

What a cell shows (the legend printed under every chart says the same):

* given: the initials of who gave it; the quantity when it differs from the scheduled dose
  (or always, for a range or variable dose); "W:" and the witness's initials for a CD;
* not given: the home's code letter (R-MAR-6);
* self-administered (R-RX-9): "SA", never a gap;
* a gap (R-MAR-2): the window has closed with no final record — red, with the "✗" symbol and
  the word "missed" for screen readers (colour is never the only signal);
* a late entry (R-MAR-3): an "L" marker; a corrected record (R-MAR-4): the latest record of the
  chain with a "*" marker, and the original with its reason listed under "Corrections";
* blank: due later (window not closed yet); shaded: not scheduled that day. Cancelled doses are
  not shown.

The default period is the home's current 28-day cycle: 28-day blocks counted from a fixed
anchor, Monday 5 January 2026 (`CYCLE_ANCHOR`), so everyone sees the same cycle.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, Q
from django.utils import timezone

from emar.models import CareHome, NonAdministrationCode, Round, User
from residents.models import AllergyStatus, Resident

from .models import (
    Administration,
    HomelyRemedy,
    HomelyRemedyDose,
    LineStatus,
    PrescriptionLine,
    ScheduledDose,
    ScheduleVersion,
)
from .selectors import doses_projected

__all__ = [
    "CYCLE_ANCHOR",
    "CYCLE_DAYS",
    "MAX_DAYS",
    "Cell",
    "Correction",
    "HomelyRow",
    "MarChart",
    "PrnEntry",
    "Row",
    "Signature",
    "cycle_start",
    "mar_chart",
]

CYCLE_ANCHOR = dt.date(2026, 1, 5)  # a Monday: cycles run Monday to Sunday four weeks later
CYCLE_DAYS = 28
MAX_DAYS = 42
SELF_ADMINISTERED = "SA"


def cycle_start(day: dt.date) -> dt.date:
    """The first day of the 28-day cycle that contains `day` (before or after the anchor)."""
    return CYCLE_ANCHOR + dt.timedelta(days=((day - CYCLE_ANCHOR).days // CYCLE_DAYS) * CYCLE_DAYS)


class Kind:
    """What a cell is, used for the CSS class and the legend."""

    GIVEN = "given"
    NOT_GIVEN = "not-given"
    SELF = "self"
    GAP = "gap"
    DUE = "due"  # scheduled, window not closed yet
    NONE = "none"  # not scheduled that day
    PRN = "prn"


@dataclass
class Cell:
    day: dt.date
    kind: str
    mark: str = ""  # initials, code letter, "SA" or "✗"
    quantity: str = ""  # shown when it differs from the scheduled dose
    witness: str = ""  # witness initials (CD)
    late: bool = False
    corrected: bool = False
    pending: str = ""  # a "will retry" code (e.g. S) recorded before the final outcome
    title: str = ""  # the full story, for the tooltip and screen readers
    entries: list[PrnEntry] = field(default_factory=list)  # PRN rows only


@dataclass
class PrnEntry:
    time: str
    quantity: str
    mark: str  # initials, or the code when not given
    witness: str = ""
    late: bool = False
    corrected: bool = False


@dataclass
class Row:
    line: PrescriptionLine
    time: dt.time | None  # None for a PRN row
    cells: list[Cell]
    first: bool = False  # first row of its line: carries the medicine details
    span: int = 1  # rows of its line (for rowspan)

    @property
    def time_label(self) -> str:
        return f"{self.time:%H:%M}" if self.time else "PRN"


@dataclass
class HomelyRow:
    """A homely remedy given in the period (R-MAR-11): its own row, entries like PRN."""

    remedy: HomelyRemedy
    cells: list[Cell]


@dataclass
class Correction:
    day: dt.date
    time: str
    medicine: str
    original: str  # the mark that was corrected, e.g. "R" or "AB"
    original_by: str
    original_at: dt.datetime
    now: str  # the mark it became
    by: str
    at: dt.datetime
    reason: str


@dataclass
class Signature:
    initials: str
    name: str


@dataclass
class MarChart:
    resident: Resident
    home: CareHome
    start: dt.date
    end: dt.date  # inclusive
    days: list[dt.date]
    today: dt.date
    rows: list[Row]
    corrections: list[Correction]
    codes: list[NonAdministrationCode]
    signatures: list[Signature]
    allergies: str
    allergy_unknown: bool
    homely_rows: list[HomelyRow] = field(default_factory=list)

    @property
    def age(self) -> int:
        return self.resident.age_on(min(self.end, self.today))

    @property
    def groups(self) -> list[list[Row]]:
        """Rows grouped by line (one table body each, kept together on a printed page)."""
        groups: list[list[Row]] = []
        for row in self.rows:
            if row.first or not groups:
                groups.append([])
            groups[-1].append(row)
        return groups

    @property
    def regular_rows(self) -> list[Row]:
        return [r for r in self.rows if r.time is not None]

    @property
    def prn_rows(self) -> list[Row]:
        return [r for r in self.rows if r.time is None]

    @property
    def months(self) -> list[tuple[str, int]]:
        """(month label, number of day columns) for the header row above the days."""
        spans: list[tuple[str, int]] = []
        for day in self.days:
            label = f"{day:%b %Y}"
            if spans and spans[-1][0] == label:
                spans[-1] = (label, spans[-1][1] + 1)
            else:
                spans.append((label, 1))
        return spans


def _num(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}"


def _local(moment: dt.datetime, tz) -> dt.datetime:
    return moment.astimezone(tz)


def _initials_for(users: dict[int, User], reserved: set[str]) -> dict[int, str]:
    """Initials as a paper MAR's signature list needs them: unique on the chart. People who
    share initials, or whose initials read as a code or "SA", get a number (SA1, SA2)."""
    groups: dict[str, list[User]] = defaultdict(list)
    for user in users.values():
        groups[user.shown_initials].append(user)
    shown: dict[int, str] = {}
    for initials, people in groups.items():
        if len(people) == 1 and initials not in reserved:
            shown[people[0].pk] = initials
            continue
        for n, person in enumerate(sorted(people, key=lambda u: u.pk), start=1):
            shown[person.pk] = f"{initials}{n}"
    return shown


def _live_lines(resident: Resident, start: dt.date, end: dt.date, start_utc, end_utc) -> Q:
    """Lines that were on the MAR at some time in the period (checked before it ended, not
    stopped before it began)."""
    return (
        Q(resident=resident, start_date__lte=end, checked_at__lt=end_utc)
        & ~Q(status=LineStatus.AWAITING_CHECK)
        & (Q(end_date__isnull=True) | Q(end_date__gte=start))
        & (Q(stopped_at__isnull=True) | Q(stopped_at__gt=start_utc))
    )


def mar_chart(
    *, resident: Resident, start: dt.date, days: int = CYCLE_DAYS, now: dt.datetime | None = None
) -> MarChart:
    """The MAR chart of `resident` for local days `start`..`start + days - 1` (R-MAR-12)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1 to {MAX_DAYS}")
    now = now or timezone.now()
    home = resident.home
    tz = home.tz
    end = start + dt.timedelta(days=days - 1)
    day_list = [start + dt.timedelta(days=i) for i in range(days)]
    start_utc = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
    end_utc = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    today = now.astimezone(tz).date()

    # Stored doses up to the end of the window the beat job materialises; after it, the doses
    # the prescriptions schedule, projected without writing (a read never writes without bound).
    stored_until = min(end, today + dt.timedelta(days=1))
    doses = list(
        ScheduledDose.objects.filter(
            resident=resident, local_date__range=(start, stored_until), cancelled_at__isnull=True
        ).order_by("due_at")
    )
    dose_ids = {d.pk for d in doses}
    if end > stored_until:
        doses += doses_projected(
            home=home,
            start=max(start, stored_until + dt.timedelta(days=1)),
            end=end,
            resident=resident,
        )
    records = list(
        Administration.objects.filter(resident=resident)
        .filter(
            Q(dose__resident=resident, dose__local_date__range=(start, end))
            | Q(dose__isnull=True, administered_at__gte=start_utc, administered_at__lt=end_utc)
        )
        .select_related("recorded_by", "witness", "code")
        .order_by("recorded_at", "pk")
    )
    record_line_ids = {r.line_id for r in records}
    lines = list(
        PrescriptionLine.objects.filter(
            _live_lines(resident, start, end, start_utc, end_utc)
            | Q(resident=resident, pk__in={d.line_id for d in doses} | record_line_ids)
        )
        .select_related("medicine")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=ScheduleVersion.objects.filter(effective_from__isnull=False).order_by(
                    "effective_from", "pk"
                ),
                to_attr="live_versions",
            )
        )
        .order_by("is_prn", "medicine__name", "pk")
    )
    rounds = {r.pk: r for r in Round.objects.filter(home=home)}
    # The key: codes offered now, and retired ones still on this chart's records (R-MAR-6).
    used_codes = {r.code_id for r in records if r.code_id}
    codes = list(
        NonAdministrationCode.objects.filter(home=home)
        .filter(Q(active=True) | Q(pk__in=used_codes))
        .order_by("code")
    )
    allergy_list = list(resident.allergies.filter(removed_at__isnull=True).order_by("substance"))

    homely = list(
        HomelyRemedyDose.objects.filter(
            resident=resident, administered_at__gte=start_utc, administered_at__lt=end_utc
        )
        .select_related("remedy__medicine", "recorded_by", "override_by")
        .order_by("remedy__medicine__name", "administered_at", "pk")
    )

    # Records: chains of corrections, and the people to list.
    by_pk = {r.pk: r for r in records}
    corrected_by = {r.corrects_id: r for r in records if r.corrects_id}
    users: dict[int, User] = {}
    for r in records:
        users[r.recorded_by_id] = r.recorded_by
        if r.witness is not None:
            users[r.witness.pk] = r.witness
    for h in homely:
        users[h.recorded_by_id] = h.recorded_by
        if h.override_by is not None:
            users[h.override_by.pk] = h.override_by
    shown = _initials_for(users, {SELF_ADMINISTERED} | {c.code for c in codes})

    def head(record: Administration) -> Administration:
        seen = set()
        while record.pk in corrected_by and record.pk not in seen:
            seen.add(record.pk)
            record = corrected_by[record.pk]
        return record

    def mark(record: Administration) -> str:
        if record.is_given:
            return shown[record.recorded_by_id]
        if record.is_void:
            return "in error"
        return record.code.code if record.code is not None else "?"

    roots_by_dose: dict[int, list[Administration]] = defaultdict(list)
    prn_roots: dict[tuple[int, dt.date], list[Administration]] = defaultdict(list)
    for r in records:
        if r.corrects_id and r.corrects_id in by_pk:
            continue  # part of a chain; reached from its root
        if r.dose_id in dose_ids:
            roots_by_dose[r.dose_id].append(r)
        elif r.dose_id is None:
            prn_roots[(r.line_id, _local(r.administered_at, tz).date())].append(r)

    corrections: list[Correction] = []
    line_names = {ln.pk: ln.medicine.name for ln in lines}

    def note_chain(root: Administration, day: dt.date, time: str) -> None:
        record = root
        while record.pk in corrected_by:
            newer = corrected_by[record.pk]
            corrections.append(
                Correction(
                    day=day,
                    time=time,
                    medicine=line_names.get(record.line_id, ""),
                    original=mark(record),
                    original_by=str(record.recorded_by),
                    original_at=_local(record.recorded_at, tz),
                    now=mark(newer),
                    by=str(newer.recorded_by),
                    at=_local(newer.recorded_at, tz),
                    reason=newer.correction_reason,
                )
            )
            record = newer

    def describe(record: Administration) -> str:
        at = _local(record.administered_at, tz)
        if record.is_given:
            text = f"Given {_num(record.quantity)} at {at:%H:%M} by {record.recorded_by}"
            if record.witness_id:
                text += f", witnessed by {record.witness}"
            if record.quantity_reason:
                text += f"; other amount: {record.quantity_reason}"
            if record.prn_override_by_id and record.prn_advised_at:
                text += (
                    f"; PRN limit overridden on the advice of {record.prn_adviser_name} "
                    f"({record.get_prn_advised_by_role_display()}, "
                    f"{_local(record.prn_advised_at, tz):%H:%M})"
                )
            if record.allergy_confirmed_by_id:
                text += "; allergy match confirmed by a second senior"
        elif record.is_void:
            text = f"Recorded in error ({record.recorded_by}): {record.correction_reason}"
        else:
            code = record.code
            assert code is not None, "given_has_quantity_not_given_has_code: not given has a code"
            text = f"Not given: {code.code} {code.label} ({at:%H:%M}, {record.recorded_by})"
        if record.late:
            text += f"; late entry: {record.late_reason}"
        if record.note:
            text += f"; note: {record.note}"
        return text

    def scheduled_cell(dose: ScheduledDose) -> Cell:
        time = f"{dose.local_time:%H:%M}"
        heads = []
        for root in roots_by_dose.get(dose.pk, []):
            note_chain(root, dose.local_date, time)
            heads.append((head(root), root))
        final = next(((h, root) for h, root in reversed(heads) if h.final), None)
        pending = [h for h, _ in heads if not h.final and not h.is_void]
        pending_codes = "".join(mark(h) for h in pending)
        if final is not None:
            record, root = final
            cell = Cell(
                day=dose.local_date,
                kind=Kind.GIVEN if record.is_given else Kind.NOT_GIVEN,
                mark=mark(record),
                late=record.late,
                corrected=record is not root,
                pending=pending_codes,
                title=describe(record) + (" (corrected)" if record is not root else ""),
            )
            if record.is_given:
                if dose.dose is None or record.quantity != dose.dose:
                    cell.quantity = _num(record.quantity)
                if record.witness_id:
                    cell.witness = shown[record.witness_id]
            return cell
        if dose.self_administered:
            return Cell(
                day=dose.local_date,
                kind=Kind.SELF,
                mark=SELF_ADMINISTERED,
                title="Self-administered by the resident",
            )
        if now > dose.window_closes:
            return Cell(
                day=dose.local_date,
                kind=Kind.GAP,
                mark="✗",
                pending=pending_codes,
                title=f"Missed: no record by {_local(dose.window_closes, tz):%H:%M}"
                + (f" (only {pending_codes}: will retry)" if pending_codes else ""),
            )
        return Cell(
            day=dose.local_date,
            kind=Kind.DUE,
            mark=pending_codes,
            pending=pending_codes,
            title="Due" + (f" ({pending_codes}: will retry)" if pending_codes else ""),
        )

    doses_by_line: dict[int, list[ScheduledDose]] = defaultdict(list)
    for d in doses:
        doses_by_line[d.line_id].append(d)

    rows: list[Row] = []
    for ln in lines:
        if ln.is_prn:
            cells = []
            for day in day_list:
                entries = []
                texts = []
                for root in prn_roots.get((ln.pk, day), []):
                    at = f"{_local(root.administered_at, tz):%H:%M}"
                    note_chain(root, day, at)
                    record = head(root)
                    entries.append(
                        PrnEntry(
                            time=f"{_local(record.administered_at, tz):%H:%M}",
                            quantity=_num(record.quantity) if record.is_given else "",
                            mark=mark(record),
                            witness=shown[record.witness_id] if record.witness_id else "",
                            late=record.late,
                            corrected=record is not root,
                        )
                    )
                    reason = f"; reason: {record.prn_reason}" if record.prn_reason else ""
                    texts.append(describe(record) + reason)
                cells.append(
                    Cell(
                        day=day,
                        kind=Kind.PRN,
                        entries=entries,
                        title="; ".join(texts),
                    )
                )
            rows.append(Row(line=ln, time=None, cells=cells, first=True, span=1))
            continue
        line_doses = doses_by_line.get(ln.pk, [])
        times = {d.local_time for d in line_doses}
        if ln.status == LineStatus.ACTIVE and ln.live_versions:
            # The current schedule's times, so a row exists before its doses are materialised.
            for slot in ln.live_versions[-1].slots:
                rnd = rounds.get(slot.get("round")) if slot.get("round") else None
                times.add(rnd.time if rnd else dt.time.fromisoformat(slot["time"]))
        if not times:
            continue  # nothing scheduled in the period and no current schedule
        by_slot = {(d.local_date, d.local_time): d for d in line_doses}
        line_rows = []
        for time in sorted(times):
            cells = []
            for day in day_list:
                dose = by_slot.get((day, time))
                cells.append(scheduled_cell(dose) if dose else Cell(day=day, kind=Kind.NONE))
            line_rows.append(Row(line=ln, time=time, cells=cells))
        line_rows[0].first = True
        line_rows[0].span = len(line_rows)
        rows.extend(line_rows)

    homely_rows = _homely_rows(homely, day_list, tz, shown)

    if resident.allergy_status == AllergyStatus.UNKNOWN:
        allergies = "ALLERGY STATUS UNKNOWN"
    elif allergy_list:
        allergies = "; ".join(
            f"{a.substance} ({', '.join(filter(None, [a.reaction, a.get_severity_display()]))})"
            for a in allergy_list
        )
    else:
        allergies = "No known allergies"

    corrections.sort(key=lambda c: (c.day, c.time, c.at))
    signatures = sorted(
        (Signature(initials=shown[pk], name=str(u)) for pk, u in users.items()),
        key=lambda s: s.initials,
    )
    return MarChart(
        resident=resident,
        home=home,
        start=start,
        end=end,
        days=day_list,
        today=today,
        rows=rows,
        corrections=corrections,
        codes=codes,
        signatures=signatures,
        allergies=allergies,
        allergy_unknown=resident.allergy_status == AllergyStatus.UNKNOWN,
        homely_rows=homely_rows,
    )


def _homely_rows(
    homely: list[HomelyRemedyDose], day_list: list[dt.date], tz, shown: dict[int, str]
) -> list[HomelyRow]:
    """One row per homely remedy given in the period; each day lists its doses with time,
    quantity and initials; an override shows the second senior's initials as "O:" (R-MAR-11)."""
    by_remedy: dict[int, list[HomelyRemedyDose]] = defaultdict(list)
    for h in homely:
        by_remedy[h.remedy_id].append(h)
    rows = []
    for doses in by_remedy.values():
        by_day: dict[dt.date, list[HomelyRemedyDose]] = defaultdict(list)
        for h in doses:
            by_day[_local(h.administered_at, tz).date()].append(h)
        cells = []
        for day in day_list:
            entries, texts = [], []
            for h in by_day.get(day, []):
                at = _local(h.administered_at, tz)
                entries.append(
                    PrnEntry(
                        time=f"{at:%H:%M}",
                        quantity=_num(h.quantity),
                        mark=shown[h.recorded_by_id]
                        + (f" O:{shown[h.override_by_id]}" if h.override_by_id else ""),
                    )
                )
                text = f"Homely remedy {_num(h.quantity)} at {at:%H:%M} by {h.recorded_by}"
                text += f"; reason: {h.reason}"
                if h.override_by_id:
                    text += f"; override by {h.override_by}: {h.override_reason}"
                texts.append(text)
            cells.append(Cell(day=day, kind=Kind.PRN, entries=entries, title="; ".join(texts)))
        rows.append(HomelyRow(remedy=doses[0].remedy, cells=cells))
    return rows
