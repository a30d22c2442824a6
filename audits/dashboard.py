"""The home and provider dashboards (R-DASH-1, R-DASH-2): today's figures of one home or of
every home of a provider, read from the records.

Every figure is computed for a list of homes at once, each on its own local day, so the number
of queries is fixed whatever the number of homes, units, residents or doses: one grouped
aggregate or one bounded list per figure, and loops in Python only over grouped rows. Nothing
here writes. The definitions, shown on the screens as hints:

- *Today* is the home's local calendar day. A scheduled dose is on today's rounds when its
  round is today's (a 01:30 dose belongs to last night's round, as on the round screen), or,
  with no round, when it is due today. Cancelled and self-administered doses are left out, as
  in the audit (`audits.metrics`).
- A dose is *given* or *not given* by its in-force final record (R-MAR-4); with none, it is
  *open* while its window is open or still to come, and a *gap* once the window has closed
  (the audit's omission, `metrics.gaps`). *Missed* doses are today's gaps.
- *Late*: doses given today after their window closed (the audit's "given late").
- *PRN given*: in-force PRN records given today. *CD doses due*: today's doses of a
  CD-register medicine, and how many of them are still open.
- *Stock alerts*: live lines out of stock, or with fewer than 7 days left at the last week's
  scheduled use (`medications.services.stock.stock_levels`, as the round screen shows them);
  unresolved stock discrepancies. The home dashboard adds opened packs past their in-use expiry
  or reaching it this week (R-STK-7, `medications.services.opened.opened_expiring`).
- *Temperature excursions*: today's readings out of range (fridge outside 2 to 8 °C, room above
  25 °C, R-STK-6), and active fridges and rooms with no reading yet today.
- *Training*: the training matrix's cells expired or expiring within 30 days.
- *Audit actions*: actions not done (R-AUD-3), and those past their due date.
- The provider dashboard adds the month-to-date omission (gap) rate exactly as the monthly
  audit defines it (`metrics.gap_rates`), the last signed audit's checklist score and the
  six-month trend of scores.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from emar.models import CareHome, Round, Unit
from medications.models import Administration, LineStatus, PrescriptionLine, ScheduledDose
from medications.models.stock import StockDiscrepancy, StorageLocation, TemperatureReading
from medications.services.opened import opened_expiring
from medications.services.stock import stock_levels
from residents.models import ResidentStatus
from training import selectors as training_selectors

from . import charts, metrics
from .models import ActionStatus, Audit, AuditAction, AuditStatus, previous_month

LIST_LIMIT = 50  # rows of a list shown on the home dashboard; the count is always complete
TREND_MONTHS = 6


@dataclass
class RoundFigures:
    unit: Unit
    round: Round | None  # None: doses at times that belong to no round
    due: int = 0
    given: int = 0
    not_given: int = 0
    open: int = 0
    gaps: int = 0

    @property
    def done(self) -> int:
        return self.given + self.not_given

    @property
    def percent_done(self) -> int:
        return round(100 * self.done / self.due) if self.due else 0

    @property
    def percent_gaps(self) -> int:
        return round(100 * self.gaps / self.due) if self.due else 0


@dataclass
class HomeFigures:
    home: CareHome
    today: dt.date
    rounds: list[RoundFigures] = field(default_factory=list)
    late: list[Administration] = field(default_factory=list)
    late_count: int = 0
    missed: list[ScheduledDose] = field(default_factory=list)
    prn: list[Administration] = field(default_factory=list)
    prn_count: int = 0
    cd_due: int = 0
    cd_open: int = 0
    low_stock: list[tuple[PrescriptionLine, object]] = field(default_factory=list)
    discrepancies: int = 0
    excursions: list[TemperatureReading] = field(default_factory=list)
    unlogged: list[StorageLocation] = field(default_factory=list)
    training: list[training_selectors.ExpiryItem] = field(default_factory=list)
    opened_expiring: list = field(default_factory=list)  # home dashboard only (R-STK-7)
    opened_past: int = 0
    actions_open: int = 0
    actions_overdue: int = 0
    # provider dashboard only
    gap_rate: float | None = None
    gaps_month: int = 0
    closed_month: int = 0
    last_score: int | None = None
    last_rag: str | None = None
    last_month: dt.date | None = None
    trend: list[dict] = field(default_factory=list)
    trend_chart: charts.Chart | None = None

    def _sum(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.rounds)

    @property
    def due(self) -> int:
        return self._sum("due")

    @property
    def given(self) -> int:
        return self._sum("given")

    @property
    def not_given(self) -> int:
        return self._sum("not_given")

    @property
    def open(self) -> int:
        return self._sum("open")

    @property
    def gaps(self) -> int:
        return self._sum("gaps")

    @property
    def missed_count(self) -> int:
        return self.gaps

    @property
    def training_expired(self) -> int:
        return sum(1 for i in self.training if i.cell.status == "expired")

    @property
    def training_expiring(self) -> int:
        return sum(1 for i in self.training if i.cell.status == "expiring")

    @property
    def stock_alerts(self) -> int:
        return len(self.low_stock)

    @property
    def temperature_alerts(self) -> int:
        return len(self.excursions)


def _local_days(homes: list[CareHome], now: dt.datetime) -> dict[int, dt.date]:
    return {h.pk: now.astimezone(h.tz).date() for h in homes}


def _day_bounds(home: CareHome, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=home.tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=home.tz)
    return start, end


def _by_day(days: dict[int, dt.date], build) -> Q:
    """One condition per distinct local day (one, almost always), OR-ed together."""
    groups: dict[dt.date, list[int]] = {}
    for home_id, day in days.items():
        groups.setdefault(day, []).append(home_id)
    return reduce(or_, (build(day, ids) for day, ids in groups.items()), Q(pk__in=[]))


def todays_doses(days: dict[int, dt.date]):
    """Today's doses to give of each home (see the module's definitions)."""
    on_round = _by_day(
        days,
        lambda day, ids: (
            Q(home_id__in=ids, round_date=day)
            | Q(home_id__in=ids, round_date__isnull=True, local_date=day)
        ),
    )
    return ScheduledDose.objects.filter(
        on_round, cancelled_at__isnull=True, self_administered=False
    )


def _with_outcome(doses):
    """Annotate each dose with the outcome of its in-force final record (None if open)."""
    record = Administration.objects.filter(
        dose=OuterRef("pk"), corrected_by__isnull=True, final=True
    ).values("outcome")[:1]
    return doses.annotate(outcome=Subquery(record))


def _rounds(homes: list[CareHome], days: dict[int, dt.date], now: dt.datetime, out: dict):
    units = list(Unit.objects.filter(home__in=homes))
    units.sort(key=lambda u: u.name.casefold())
    rounds = list(Round.objects.filter(home__in=homes).order_by("time"))
    grid: dict[tuple[int, int | None], RoundFigures] = {}
    for unit in units:
        for r in rounds:
            if r.home_id == unit.home_id:
                grid[(unit.pk, r.pk)] = RoundFigures(unit, r)
    rows = (
        _with_outcome(todays_doses(days))
        .values("home_id", "unit_id", "round_id")
        .annotate(
            due=Count("pk"),
            given=Count("pk", filter=Q(outcome="given")),
            not_given=Count("pk", filter=Q(outcome="not_given")),
            open=Count("pk", filter=Q(outcome__isnull=True, window_closes__gte=now)),
            gaps=Count("pk", filter=Q(outcome__isnull=True, window_closes__lt=now)),
            cd_due=Count("pk", filter=Q(line__medicine__cd_register=True)),
            cd_open=Count(
                "pk",
                filter=Q(
                    line__medicine__cd_register=True,
                    outcome__isnull=True,
                    window_closes__gte=now,
                ),
            ),
        )
        .order_by()
    )
    by_pk = {u.pk: u for u in units}
    for row in rows:
        key = (row["unit_id"], row["round_id"])
        if key not in grid:
            grid[key] = RoundFigures(by_pk[row["unit_id"]], None)
        fig = grid[key]
        for name in ("due", "given", "not_given", "open", "gaps"):
            setattr(fig, name, getattr(fig, name) + row[name])
        out[row["home_id"]].cd_due += row["cd_due"]
        out[row["home_id"]].cd_open += row["cd_open"]
    order = {u.pk: i for i, u in enumerate(units)}
    for fig in sorted(
        grid.values(),
        key=lambda f: (
            order[f.unit.pk],
            f.round is None,
            f.round.time if f.round else dt.time(0),
        ),
    ):
        out[fig.unit.home_id].rounds.append(fig)


def _late_and_missed(days: dict, now: dt.datetime, out: dict, detail: bool) -> None:
    late = Administration.objects.filter(
        corrected_by__isnull=True,
        final=True,
        outcome="given",
        dose__in=todays_doses(days),
        administered_at__gt=F("dose__window_closes"),
    )
    for row in late.values("home_id").annotate(n=Count("pk")).order_by():
        out[row["home_id"]].late_count = row["n"]
    if not detail:
        return
    related = ("resident", "resident__unit", "line__medicine", "dose", "recorded_by")
    for record in late.select_related(*related).order_by("-administered_at")[:LIST_LIMIT]:
        out[record.home_id].late.append(record)
    missed = (
        _with_outcome(todays_doses(days))
        .filter(outcome__isnull=True, window_closes__lt=now)
        .select_related("resident", "unit", "line__medicine")
        .order_by("due_at", "resident__full_name")[:LIST_LIMIT]
    )
    for dose in missed:
        out[dose.home_id].missed.append(dose)


def _prn(homes: list[CareHome], days: dict, out: dict, detail: bool) -> None:
    def today(day, ids):
        return reduce(
            or_,
            (
                Q(home_id=h.pk, administered_at__gte=a, administered_at__lt=b)
                for h in homes
                if h.pk in ids
                for a, b in [_day_bounds(h, day)]
            ),
        )

    prn = Administration.objects.filter(
        _by_day(days, today), corrected_by__isnull=True, dose__isnull=True, outcome="given"
    )
    for row in prn.values("home_id").annotate(n=Count("pk")).order_by():
        out[row["home_id"]].prn_count = row["n"]
    if detail:
        related = ("resident", "line__medicine", "recorded_by")
        for record in prn.select_related(*related).order_by("-administered_at")[:LIST_LIMIT]:
            out[record.home_id].prn.append(record)


def _stock(homes: list[CareHome], days: dict, out: dict) -> None:
    lines = list(
        PrescriptionLine.objects.filter(
            home__in=homes,
            status=LineStatus.ACTIVE,
            resident__status=ResidentStatus.RESIDENT,
            stopped_at__isnull=True,
        )
        .filter(_by_day(days, lambda day, ids: Q(home_id__in=ids, start_date__lte=day)))
        .filter(
            Q(end_date__isnull=True)
            | _by_day(days, lambda day, ids: Q(home_id__in=ids, end_date__gte=day))
        )
        .select_related("resident", "medicine")
        .order_by("resident__full_name", "medicine__name")
    )
    for day in set(days.values()):
        on_day = [ln for ln in lines if days[ln.home_id] == day]
        levels = stock_levels(line_ids=[ln.pk for ln in on_day], today=day)
        for line in on_day:
            level = levels[line.pk]
            if level.low:
                out[line.home_id].low_stock.append((line, level))
    rows = (
        StockDiscrepancy.objects.filter(home__in=homes, resolved_at__isnull=True)
        .values("home_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        out[row["home_id"]].discrepancies = row["n"]


def _temperatures(homes: list[CareHome], days: dict, out: dict) -> None:
    readings = list(
        TemperatureReading.objects.filter(
            _by_day(days, lambda day, ids: Q(home_id__in=ids, local_date=day))
        )
        .select_related("location", "by")
        .order_by("taken_at", "pk")
    )
    logged = {r.location_id for r in readings}
    for r in readings:
        if r.out_of_range:
            out[r.home_id].excursions.append(r)
    for location in StorageLocation.objects.filter(home__in=homes, active=True).order_by("name"):
        if location.pk not in logged:
            out[location.home_id].unlogged.append(location)


def _actions(homes: list[CareHome], days: dict, out: dict) -> None:
    overdue = _by_day(days, lambda day, ids: Q(home_id__in=ids, due_on__lt=day))
    rows = (
        AuditAction.objects.filter(home__in=homes)
        .exclude(status=ActionStatus.DONE)
        .values("home_id")
        .annotate(n=Count("pk"), overdue=Count("pk", filter=overdue))
        .order_by()
    )
    for row in rows:
        out[row["home_id"]].actions_open = row["n"]
        out[row["home_id"]].actions_overdue = row["overdue"]


def figures(
    homes: list[CareHome], *, now: dt.datetime | None = None, detail: bool = False
) -> dict[int, HomeFigures]:
    """Today's figures of each home (R-DASH-1), keyed by home id. `detail` adds the lists the
    home dashboard shows (late, missed and PRN doses); counts are always there."""
    now = now or timezone.now()
    homes = list(homes)
    if not homes:
        return {}
    days = _local_days(homes, now)
    out = {h.pk: HomeFigures(home=h, today=days[h.pk]) for h in homes}
    _rounds(homes, days, now, out)
    _late_and_missed(days, now, out, detail)
    _prn(homes, days, out, detail)
    _stock(homes, days, out)
    _temperatures(homes, days, out)
    for item in training_selectors.expiring(homes, today=days):
        out[item.home_id].training.append(item)
    _actions(homes, days, out)
    if detail:
        for home in homes:
            fig = out[home.pk]
            fig.opened_expiring = opened_expiring(home=home, today=fig.today)
            fig.opened_past = sum(1 for o in fig.opened_expiring if o.expired_on(fig.today))
    return out


def home_figures(home: CareHome, *, now: dt.datetime | None = None) -> HomeFigures:
    """The home dashboard's figures, with its lists (R-DASH-1)."""
    return figures([home], now=now, detail=True)[home.pk]


# --- the provider dashboard (R-DASH-2) ------------------------------------------------------


def _audits(homes: list[CareHome], days: dict, out: dict) -> None:
    """The last signed audit's score, and the six months' trend: two queries."""
    last = (
        Audit.objects.filter(home__in=homes, status=AuditStatus.SIGNED, score__isnull=False)
        .order_by("home_id", "-month")
        .distinct("home_id")
        .values("home_id", "month", "score", "rag")
    )
    for audit in last:
        fig = out[audit["home_id"]]
        fig.last_score, fig.last_rag = audit["score"], audit["rag"] or None
        fig.last_month = audit["month"]
    earliest = min(days.values()).replace(day=1)
    for _ in range(TREND_MONTHS):
        earliest = previous_month(earliest)
    rows = Audit.objects.filter(home__in=homes, month__gte=earliest).order_by("month")
    for audit in rows.values("home_id", "month", "status", "score", "rag", "metrics"):
        fig = out[audit["home_id"]]
        this_month = fig.today.replace(day=1)
        if audit["month"] >= this_month:
            continue  # the month in progress has no audit score yet
        signed = audit["status"] == AuditStatus.SIGNED
        first = this_month
        for _ in range(TREND_MONTHS):
            first = previous_month(first)
        if audit["month"] >= first:
            fig.trend.append(
                {
                    "month": audit["month"],
                    "label": f"{audit['month']:%b}",
                    "score": audit["score"] if signed else None,
                    "rag": (audit["rag"] or None) if signed else None,
                    "gap_rate": (audit["metrics"] or {}).get("doses", {}).get("gap_rate"),
                }
            )
    for fig in out.values():
        fig.trend_chart = trend_chart(fig)


def trend_chart(fig: HomeFigures) -> charts.Chart:
    """Six months of checklist scores, coloured by rating, as the audit report draws them."""
    month = fig.today.replace(day=1)
    months = []
    for _ in range(TREND_MONTHS):
        month = previous_month(month)
        months.append(month)
    by_month = {t["month"]: t for t in fig.trend}
    rows, colours = [], []
    for m in reversed(months):
        t = by_month.get(m)
        rows.append((f"{m:%b}", (t or {}).get("score")))  # None: no signed audit, a dash
        colours.append(charts.RAG_COLOURS[(t or {}).get("rag")])
    return charts.vbar(
        f"{fig.home.name}: checklist score, last six months",
        rows,
        unit="%",
        max_value=100,
        width=220,
        height=80,
        colours=colours,
    )


SORTS: dict[str, tuple[str, object]] = {
    # key: (column heading, value to sort by)
    "home": ("Home", lambda f: f.home.name.casefold()),
    "due": ("Doses due today", lambda f: f.due),
    "given": ("Given", lambda f: f.given),
    "open": ("Still open", lambda f: f.open),
    "missed": ("Missed", lambda f: f.missed_count),
    "late": ("Late", lambda f: f.late_count),
    "prn": ("PRN given", lambda f: f.prn_count),
    "cd": ("CD due", lambda f: f.cd_due),
    "stock": ("Stock alerts", lambda f: f.stock_alerts),
    "temperatures": ("Temperature excursions", lambda f: f.temperature_alerts),
    "training": ("Training expired / expiring", lambda f: len(f.training)),
    "actions": ("Open audit actions", lambda f: f.actions_open),
    "omissions": ("Omission rate this month", lambda f: f.gap_rate or 0.0),
    "score": ("Last audit score", lambda f: -1 if f.last_score is None else f.last_score),
}


class BadSort(ValueError):
    pass


def parse_sort(raw: str | None) -> tuple[str, bool]:
    """`?sort=` as (key, descending): "home", or "-omissions" for highest first."""
    raw = raw or "home"
    descending = raw.startswith("-")
    key = raw.removeprefix("-")
    if key not in SORTS:
        raise BadSort(f"Sort by one of: {', '.join(SORTS)} (with - for highest first).")
    return key, descending


def provider_figures(
    homes: list[CareHome], *, now: dt.datetime | None = None, sort: str = "home", desc=False
) -> list[HomeFigures]:
    """Every home's figures for the provider dashboard, sorted (R-DASH-2)."""
    now = now or timezone.now()
    out = figures(homes, now=now)
    if not out:
        return []
    rates = metrics.gap_rates(homes, now)
    for home_id, fig in out.items():
        fig.gap_rate = rates[home_id]["gap_rate"]
        fig.gaps_month = rates[home_id]["gaps"]
        fig.closed_month = rates[home_id]["closed"]
    _audits(homes, {h: f.today for h, f in out.items()}, out)
    key = SORTS[sort][1]
    by_name = sorted(out.values(), key=lambda f: f.home.name.casefold())
    return sorted(by_name, key=key, reverse=desc)


CSV_COLUMNS = (
    ("Home", lambda f: f.home.name),
    ("Date", lambda f: f.today.isoformat()),
    ("Doses due", lambda f: f.due),
    ("Given", lambda f: f.given),
    ("Not given", lambda f: f.not_given),
    ("Still open", lambda f: f.open),
    ("Missed (gaps)", lambda f: f.missed_count),
    ("Given late", lambda f: f.late_count),
    ("PRN given", lambda f: f.prn_count),
    ("CD doses due", lambda f: f.cd_due),
    ("CD doses still open", lambda f: f.cd_open),
    ("Stock alerts", lambda f: f.stock_alerts),
    ("Open stock discrepancies", lambda f: f.discrepancies),
    ("Temperature excursions", lambda f: f.temperature_alerts),
    ("Temperatures not logged", lambda f: len(f.unlogged)),
    ("Training expired", lambda f: f.training_expired),
    ("Training expiring within 30 days", lambda f: f.training_expiring),
    ("Open audit actions", lambda f: f.actions_open),
    ("Overdue audit actions", lambda f: f.actions_overdue),
    ("Omission rate this month (%)", lambda f: f.gap_rate),
    ("Gaps this month", lambda f: f.gaps_month),
    ("Doses with closed window this month", lambda f: f.closed_month),
    ("Last audit month", lambda f: f.last_month.strftime("%Y-%m") if f.last_month else ""),
    ("Last audit score (%)", lambda f: "" if f.last_score is None else f.last_score),
    ("Last audit rating", lambda f: f.last_rag or ""),
)


def csv_rows(figs: list[HomeFigures]) -> list[list]:
    return [[name for name, _ in CSV_COLUMNS]] + [[get(f) for _, get in CSV_COLUMNS] for f in figs]
