"""The monthly audit's metrics (R-AUD-1), computed from the records with aggregate queries.

The number of queries is fixed whatever the number of residents or doses: every count is a
database aggregate, and the only Python loops run over a handful of grouped rows (codes, days,
residents with refusals). The definitions, which the report prints in its notes:

- The month is the home's local calendar month. A scheduled dose belongs to it by its local
  date; a PRN dose (no scheduled dose) by when it was given.
- A record is *in force* when no later record corrects it (R-MAR-4); only in-force records
  count. A *final* record is an outcome; "asleep, will retry" is not final.
- *Doses to give* are the month's scheduled doses that were not cancelled and are not
  self-administered. *Given* and *not given* count in-force final records on the month's
  scheduled doses.
- A *gap* (omission) is a dose to give whose window had closed when the metrics were computed
  and that has no in-force final record. The *gap rate* is gaps per 100 doses to give whose
  window had closed.
- *Away* doses were due while the resident was away (R-RES-6): they are recorded H or L
  (not given, category "absent"), never given and never gaps.
- A *late entry* is an in-force record written after the dose window closed (R-MAR-3). A dose
  *given late* was given (administration time) after its window closed. A *time-sensitive dose
  late* is a time-sensitive dose given after its (tighter) window closed; time-sensitive gaps
  are counted separately.
- *Repeated refusals*: three or more consecutive in-force final outcomes of the same regular
  line within the month were refusals (code category "refused"), as in R-MAR-7.
- *PRN without follow-up*: an in-force PRN dose given with no effectiveness follow-up on it (or
  on the record it corrects). *PRN overrides*: PRN doses given past the protocol's limits with
  a senior's override.
- *Homely remedies* (R-MAR-11): doses given in the month (by when given), how many residents,
  and how many were given past a duplicate-ingredient or allergy warning on a second senior's
  override.
- *CD without witness*: in-force given records of a CD-register medicine with no witness.
- *Opened products* (R-STK-7): live lines of liquids, creams, drops and inhalers as at the end
  of the month (or now); with a date opened (a pack in use recorded), without one, and those
  whose pack in use was past its in-use expiry on that day.
- Stock and CD discrepancies, temperature excursions and incidents count those raised in the
  month; lines awaiting check, unknown allergy status and overdue reviews and plans are as at
  the end of the month (or now, for the current month); training compliance is the training
  matrix on that day.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    RowRange,
    Sum,
    Value,
    When,
    Window,
)
from django.utils import timezone

from emar.models import CareHome, CodeCategory
from medications import selectors as medication_selectors
from medications.models import (
    FRIDGE_MAX,
    FRIDGE_MIN,
    ROOM_MAX,
    Administration,
    HomelyRemedyDose,
    LineStatus,
    PrescriptionLine,
    ScheduledDose,
    StockDiscrepancy,
    TemperatureReading,
)
from medications.services.opened import opened_counts
from residents import selectors as resident_selectors
from residents.models import Absence, AllergyStatus, Resident, ResidentStatus
from training.selectors import training_matrix

from .models import Harm, Incident, IncidentKind, IncidentType, Stage, next_month

REFUSALS_IN_A_ROW = 3


def month_bounds(home: CareHome, month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The month's start and end as aware datetimes in the home's timezone (end exclusive)."""
    tz = home.tz
    return (
        dt.datetime.combine(month, dt.time(0), tzinfo=tz),
        dt.datetime.combine(next_month(month), dt.time(0), tzinfo=tz),
    )


Homes = CareHome | Iterable[CareHome | int]


def _in_homes(homes: Homes) -> dict:
    """The filter for one home or for several (the provider dashboard, R-DASH-2)."""
    if isinstance(homes, CareHome):
        return {"home": homes}
    return {"home__in": list(homes)}


def month_doses(home: Homes, month: dt.date):
    """The month's scheduled doses that were not cancelled (of one home, or of several)."""
    return ScheduledDose.objects.filter(
        **_in_homes(home),
        local_date__gte=month,
        local_date__lt=next_month(month),
        cancelled_at__isnull=True,
    )


def in_force(home: Homes):
    """Records not corrected. NOT EXISTS, not `corrected_by__isnull` (a LEFT JOIN ... IS NULL
    that PostgreSQL estimates at one row inside an EXISTS, then loops over: 40 s for a month
    of one home, 0.2 s this way; SPEC §11, BENCHMARKS.md)."""
    corrected = Administration.objects.filter(corrects=OuterRef("pk"))
    return Administration.objects.filter(**_in_homes(home)).filter(~Exists(corrected))


def _on_month_doses(home: Homes, month: dt.date) -> Q:
    """Records on the month's (non-cancelled) scheduled doses. The dose's home is named too,
    although a record's home is always its dose's: without it PostgreSQL finds the month's
    doses of every home by a sequential scan and joins afterwards (0.5 s for one home, 5 s with
    100 homes in the database); with it, the dose's (home, local_date) index (SPEC §11,
    BENCHMARKS.md)."""
    return Q(
        **{f"dose__{name}": value for name, value in _in_homes(home).items()},
        dose__local_date__gte=month,
        dose__local_date__lt=next_month(month),
        dose__cancelled_at__isnull=True,
    )


def scheduled_records(home: CareHome, month: dt.date):
    """In-force final records on the month's (non-cancelled) scheduled doses."""
    return in_force(home).filter(_on_month_doses(home, month), final=True)


def prn_records(home: CareHome, month: dt.date):
    start, end = month_bounds(home, month)
    return in_force(home).filter(
        dose__isnull=True, administered_at__gte=start, administered_at__lt=end
    )


def closed(now: dt.datetime) -> Q:
    """Doses to give whose window had closed at `now`: the gap rate's denominator."""
    return Q(self_administered=False, window_closes__lt=now)


def away_at_due() -> Exists:
    """The dose was due while its resident was away (R-RES-6): coded H or L by the away job,
    never a gap, even if the job had not reached it yet (H-16)."""
    return Exists(
        Absence.objects.filter(
            resident_id=OuterRef("resident_id"), started_at__lte=OuterRef("due_at")
        ).filter(Q(returned_at__isnull=True) | Q(returned_at__gt=OuterRef("due_at")))
    )


def gaps(home: Homes, month: dt.date, now: dt.datetime):
    """Doses to give whose window closed with no in-force final record (H-3), of one home or
    of several; doses due while the resident was away are not gaps (R-RES-6)."""
    recorded = in_force(home).filter(final=True, dose=OuterRef("pk"))
    return (
        month_doses(home, month)
        .filter(closed(now))
        .exclude(Exists(recorded))
        .exclude(away_at_due())
    )


def refusals(home: CareHome, month: dt.date):
    return scheduled_records(home, month).filter(
        outcome="not_given", code__category=CodeCategory.REFUSED
    )


def repeated_refusals(home: CareHome, month: dt.date) -> list[dict]:
    """Residents with a run of refusals of one line (one query, a window function)."""
    is_refusal = Q(outcome="not_given", code__category=CodeCategory.REFUSED)
    flag = Case(When(is_refusal, then=Value(1)), default=Value(0), output_field=IntegerField())
    order = [F("dose__due_at").asc(), F("pk").asc()]
    # The sum of the flag over this record and the two before it on the same line; a filter on
    # a window expression alone is applied after the window is computed (Django wraps it).
    rows = (
        scheduled_records(home, month)
        .annotate(
            run=Window(
                Sum(flag),
                partition_by=[F("line_id")],
                order_by=order,
                frame=RowRange(start=-(REFUSALS_IN_A_ROW - 1), end=0),
            )
        )
        .filter(run=REFUSALS_IN_A_ROW)
        .values("resident_id", "line_id")
    )
    found = {(r["resident_id"], r["line_id"]) for r in rows}
    if not found:
        return []
    names = dict(
        Resident.objects.filter(pk__in={r for r, _ in found}).values_list("pk", "full_name")
    )
    medicines = dict(
        PrescriptionLine.objects.filter(pk__in={ln for _, ln in found}).values_list(
            "pk", "medicine__name"
        )
    )
    by_resident: dict[int, list[str]] = {}
    for resident_id, line_id in sorted(found):
        by_resident.setdefault(resident_id, []).append(medicines[line_id])
    return sorted(
        (
            {"resident_id": rid, "resident": names[rid], "medicines": sorted(meds)}
            for rid, meds in by_resident.items()
        ),
        key=lambda r: r["resident"],
    )


def cd_without_witness(home: CareHome, month: dt.date):
    """In-force CD doses given in the month (regular or PRN) with no witness: must be none."""
    start, end = month_bounds(home, month)
    regular = _on_month_doses(home, month) & Q(final=True)
    prn = Q(dose__isnull=True, administered_at__gte=start, administered_at__lt=end)
    return in_force(home).filter(
        regular | prn, outcome="given", line__medicine__cd_register=True, witness__isnull=True
    )


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def gap_rates(homes: list[CareHome], now: dt.datetime) -> dict[int, dict]:
    """Month to date, per home: doses to give whose window closed, gaps, and the gap rate,
    by the definitions above (the provider dashboard, R-DASH-2). Each home's month is its
    own local month; homes sharing a month are counted together, so the number of queries
    is two per distinct month (one, almost always), whatever the number of homes."""
    by_month: dict[dt.date, list[int]] = {}
    for home in homes:
        by_month.setdefault(now.astimezone(home.tz).date().replace(day=1), []).append(home.pk)
    result = {h.pk: {"closed": 0, "gaps": 0, "gap_rate": 0.0} for h in homes}
    for month, ids in by_month.items():
        closed_rows = (
            month_doses(ids, month)
            .filter(closed(now))
            .values("home_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in closed_rows:
            result[row["home_id"]]["closed"] = row["n"]
        for row in gaps(ids, month, now).values("home_id").annotate(n=Count("pk")).order_by():
            result[row["home_id"]]["gaps"] = row["n"]
    for row in result.values():
        row["gap_rate"] = _pct(row["gaps"], row["closed"])
    return result


def _weeks(month: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The month cut into days 1 to 7, 8 to 14, 15 to 21, 22 to 28 and 29 to the end."""
    end = next_month(month) - dt.timedelta(days=1)
    return [
        (month.replace(day=first), min(month.replace(day=first + 6), end))
        if first < 29
        else (month.replace(day=29), end)
        for first in (1, 8, 15, 22, 29)
        if first <= end.day
    ]


def as_at(home: CareHome, month: dt.date, now: dt.datetime) -> dt.date:
    """The day the "as at" metrics are taken: the month's last day, or today if earlier."""
    return min(next_month(month) - dt.timedelta(days=1), now.astimezone(home.tz).date())


def compute(home: CareHome, month: dt.date, *, now: dt.datetime | None = None) -> dict:
    """Every metric of R-AUD-1 for `home` and `month`, as JSON-ready values."""
    now = now or timezone.now()
    start, end = month_bounds(home, month)
    day = as_at(home, month, now)
    doses = month_doses(home, month)
    counted = doses.aggregate(
        n_scheduled=Count("pk"),
        n_self=Count("pk", filter=Q(self_administered=True)),
        n_to_give=Count("pk", filter=Q(self_administered=False)),
        n_closed=Count("pk", filter=closed(now)),
        n_ts=Count("pk", filter=Q(self_administered=False, time_sensitive=True)),
        n_away=Count("pk", filter=Q(away_at_due(), self_administered=False)),
    )
    dose_counts = {
        "scheduled": counted["n_scheduled"],
        "self_administered": counted["n_self"],
        "to_give": counted["n_to_give"],
        "closed": counted["n_closed"],
        "time_sensitive": counted["n_ts"],
        "away": counted["n_away"],
    }
    records = scheduled_records(home, month)
    given_q = Q(outcome="given")
    after_window = Q(outcome="given", administered_at__gt=F("dose__window_closes"))
    record_counts = records.aggregate(
        given=Count("pk", filter=given_q),
        not_given=Count("pk", filter=Q(outcome="not_given")),
        late_entries=Count("pk", filter=Q(late=True)),
        given_late=Count("pk", filter=after_window),
        time_sensitive_late=Count("pk", filter=after_window & Q(dose__time_sensitive=True)),
    )
    by_code = list(
        records.filter(outcome="not_given")
        .values("code__code", "code__label", "code__category")
        .annotate(n=Count("pk"))
        .order_by("code__code")
    )
    by_category: Counter[str] = Counter()
    for row in by_code:
        by_category[row["code__category"]] += row["n"]
    gap_rows = list(
        gaps(home, month, now)
        .values("local_date")
        .annotate(n=Count("pk"), ts=Count("pk", filter=Q(time_sensitive=True)))
        .order_by("local_date")
    )
    gap_total = sum(r["n"] for r in gap_rows)
    per_day = {r["local_date"]: r["n"] for r in gap_rows}
    weeks = [
        {
            "label": f"{a.day}–{b.day}",
            "gaps": sum(n for d, n in per_day.items() if a <= d <= b),
        }
        for a, b in _weeks(month)
    ]
    refusal_rows = list(
        refusals(home, month)
        .values("resident_id", "resident__full_name")
        .annotate(n=Count("pk"))
        .order_by("-n", "resident__full_name")
    )
    prn = prn_records(home, month).filter(outcome="given")
    no_follow_up = Q(follow_up__isnull=True) & (
        Q(corrects__isnull=True) | Q(corrects__follow_up__isnull=True)
    )
    prn_counts = prn.aggregate(
        doses=Count("pk"),
        without_follow_up=Count("pk", filter=no_follow_up),
        overrides=Count("pk", filter=Q(prn_override_by__isnull=False)),
    )
    # R-MAR-11, R-AUD-1: homely remedies given this month, and those given past a warning
    # (prescribed duplicate ingredient or allergy) on a second senior's override.
    homely = HomelyRemedyDose.objects.filter(
        home=home, administered_at__gte=start, administered_at__lt=end
    ).aggregate(
        doses=Count("pk"),
        overrides=Count("pk", filter=Q(override_by__isnull=False)),
        residents=Count("resident", distinct=True),
    )
    cd_unwitnessed = cd_without_witness(home, month).count()
    cd_given = (
        records.filter(given_q, line__medicine__cd_register=True).count()
        + prn.filter(line__medicine__cd_register=True).count()
    )

    stock = _stock_metrics(home, month, start, end)
    # R-STK-7: the checklist asks about opening dates; these are the records behind it.
    stock["opened"] = opened_counts(home=home, day=day)
    residents = Resident.objects.filter(home=home, status=ResidentStatus.RESIDENT)
    reviews = resident_selectors.reviews_overdue(home, day)
    plans = medication_selectors.overdue_plans(home, day)
    matrix = training_matrix(home, today=day)
    competency_total = sum(c.total for c in matrix.competency_compliance)
    competency_ok = sum(c.compliant for c in matrix.competency_compliance)
    incidents = Incident.objects.filter(home=home, occurred_at__gte=start, occurred_at__lt=end)
    incident_counts = incidents.aggregate(
        total=Count("pk"),
        errors=Count("pk", filter=Q(kind="error")),
        near_misses=Count("pk", filter=Q(kind="near_miss")),
        harm=Count("pk", filter=Q(harm__in=["moderate", "severe", "death"])),
    )
    incident_rows = list(
        incidents.order_by("occurred_at").values(
            "pk", "reference", "kind", "type", "stage", "harm", "occurred_at"
        )
    )

    return {
        "version": 1,
        "month": month.isoformat(),
        "computed_at": now.isoformat(),
        "as_at": day.isoformat(),
        "doses": {
            **dose_counts,
            **record_counts,
            "gaps": gap_total,
            "gap_rate": _pct(gap_total, dose_counts["closed"]),
            "time_sensitive_gaps": sum(r["ts"] for r in gap_rows),
            "not_given_by_code": [
                {"code": r["code__code"], "label": r["code__label"], "n": r["n"]} for r in by_code
            ],
            "not_given_by_category": {c.value: by_category.get(c.value, 0) for c in CodeCategory},
            "gaps_by_week": weeks,
        },
        "refusals": {
            "total": sum(r["n"] for r in refusal_rows),
            "by_resident": [
                {"resident_id": r["resident_id"], "resident": r["resident__full_name"], "n": r["n"]}
                for r in refusal_rows
            ],
            "repeated": repeated_refusals(home, month),
        },
        "prn": prn_counts,
        "homely": homely,
        "cd": {"given": cd_given, "without_witness": cd_unwitnessed},
        "stock": stock,
        "records": {
            "lines_awaiting_check": PrescriptionLine.objects.filter(
                home=home, status=LineStatus.AWAITING_CHECK
            ).count(),
            "allergy_unknown": residents.filter(allergy_status=AllergyStatus.UNKNOWN).count(),
            "residents": residents.count(),
            "reviews_overdue": len(reviews),
            "reviews_overdue_names": sorted(r.full_name for r in reviews),
            "covert_overdue": len(plans["covert"]),
            "prn_protocols_overdue": len(plans["prn"]),
        },
        "training": {
            "overall": matrix.overall.percent,
            "overall_compliant": matrix.overall.compliant,
            "overall_total": matrix.overall.total,
            "data_security": matrix.data_security.percent if matrix.data_security else None,
            "dspt_target": matrix.dspt_target,
            "competency": _pct(competency_ok, competency_total),
            "courses": [
                {"label": c.label, "percent": c.percent, "compliant": c.compliant, "total": c.total}
                for c in matrix.course_compliance
            ],
            "competencies": [
                {"label": c.label, "percent": c.percent, "compliant": c.compliant, "total": c.total}
                for c in matrix.competency_compliance
            ],
            "staff": len(matrix.rows),
        },
        "incidents": {
            **incident_counts,
            "list": [
                {
                    "id": r["pk"],
                    "reference": r["reference"],
                    "kind": r["kind"],
                    "type": r["type"],
                    "stage": r["stage"],
                    "harm": r["harm"],
                    "occurred_at": r["occurred_at"].isoformat(),
                    "kind_label": IncidentKind(r["kind"]).label,
                    "type_label": IncidentType(r["type"]).label,
                    "stage_label": Stage(r["stage"]).label,
                    "harm_label": Harm(r["harm"]).label,
                }
                for r in incident_rows
            ],
        },
    }


def _stock_metrics(home: CareHome, month: dt.date, start: dt.datetime, end: dt.datetime) -> dict:
    """Discrepancies and temperature excursions, from the stock feature's records."""
    discrepancies = StockDiscrepancy.objects.filter(
        home=home, raised_at__gte=start, raised_at__lt=end
    ).aggregate(
        total=Count("pk"),
        cd=Count("pk", filter=Q(controlled_drug=True)),
        other=Count("pk", filter=Q(controlled_drug=False)),
        unresolved=Count("pk", filter=Q(resolved_at__isnull=True)),
        theft_suspected=Count("pk", filter=Q(theft_suspected=True)),
    )
    readings = TemperatureReading.objects.filter(
        home=home, local_date__gte=month, local_date__lt=next_month(month)
    ).aggregate(
        readings=Count("pk"),
        fridge_excursions=Count(
            "pk",
            filter=Q(kind="fridge") & (Q(minimum__lt=FRIDGE_MIN) | Q(maximum__gt=FRIDGE_MAX)),
        ),
        room_excursions=Count("pk", filter=Q(kind="room", maximum__gt=ROOM_MAX)),
    )
    return {"discrepancies": discrepancies, "temperatures": readings}
