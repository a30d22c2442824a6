"""R-AUD-1: every metric of the audit, recounted naively in Python over the records of the demo
month, agrees with the audit's aggregate queries; and those queries do not grow in number with
the number of residents."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audits import metrics, services
from audits.models import Incident, next_month
from medications.models import Administration, LineStatus, PrescriptionLine, ScheduledDose
from medications.models.stock import StockDiscrepancy, TemperatureReading
from residents.models import Resident
from tests.audits.conftest import month_of_records
from tests.factories import staff


def naive(home, month: dt.date, now: dt.datetime) -> dict:
    """The same figures, by walking every dose and record one by one."""
    tz = home.tz
    end_month = next_month(month)
    doses = [
        d
        for d in ScheduledDose.objects.filter(home=home)
        if month <= d.local_date < end_month and d.cancelled_at is None
    ]
    dose_by_pk = {d.pk: d for d in doses}
    records = list(
        Administration.objects.filter(home=home).select_related("code", "line__medicine")
    )
    corrected = {r.corrects_id for r in records if r.corrects_id}
    live = [r for r in records if r.pk not in corrected]
    sched = [r for r in live if r.final and r.dose_id in dose_by_pk]
    prn = [
        r
        for r in live
        if r.dose_id is None and month <= r.administered_at.astimezone(tz).date() < end_month
    ]
    to_give = [d for d in doses if not d.self_administered]
    closed = [d for d in to_give if d.window_closes < now]
    has_final = {r.dose_id for r in live if r.final and r.dose_id}
    gaps = [d for d in closed if d.pk not in has_final]
    given = [r for r in sched if r.outcome == "given"]
    late_given = [r for r in given if r.administered_at > dose_by_pk[r.dose_id].window_closes]
    refusals = [r for r in sched if r.outcome == "not_given" and r.code.category == "refused"]
    by_resident = Counter(r.resident_id for r in refusals)
    # runs of three refusals in a row on one line
    runs: set[int] = set()
    per_line = defaultdict(list)
    for r in sorted(sched, key=lambda r: (dose_by_pk[r.dose_id].due_at, r.pk)):
        per_line[r.line_id].append(r)
    for outcomes in per_line.values():
        streak = 0
        for r in outcomes:
            streak = streak + 1 if r in refusals else 0
            if streak >= 3:
                runs.add(r.resident_id)
    prn_given = [r for r in prn if r.outcome == "given"]
    follow_ups = set(
        Administration.objects.filter(follow_up__isnull=False).values_list("pk", flat=True)
    )
    cd_unwitnessed = [
        r
        for r in sched + prn
        if r.outcome == "given" and r.line.medicine.cd_register and r.witness_id is None
    ]
    start = dt.datetime.combine(month, dt.time(0), tzinfo=tz)
    stop = dt.datetime.combine(end_month, dt.time(0), tzinfo=tz)
    discrepancies = [
        d for d in StockDiscrepancy.objects.filter(home=home) if start <= d.raised_at < stop
    ]
    readings = [
        t for t in TemperatureReading.objects.filter(home=home) if month <= t.local_date < end_month
    ]
    incidents = [i for i in Incident.objects.filter(home=home) if start <= i.occurred_at < stop]
    return {
        "scheduled": len(doses),
        "self_administered": len(doses) - len(to_give),
        "to_give": len(to_give),
        "given": len(given),
        "not_given": len([r for r in sched if r.outcome == "not_given"]),
        "by_code": dict(Counter(r.code.code for r in sched if r.outcome == "not_given")),
        "by_category": Counter(r.code.category for r in sched if r.outcome == "not_given"),
        "gaps": len(gaps),
        "gap_rate": round(100 * len(gaps) / len(closed), 1) if closed else 0.0,
        "ts_gaps": len([d for d in gaps if d.time_sensitive]),
        "late_entries": len([r for r in sched if r.late]),
        "given_late": len(late_given),
        "ts_late": len([r for r in late_given if dose_by_pk[r.dose_id].time_sensitive]),
        "refusals": len(refusals),
        "refusals_by_resident": dict(by_resident),
        "repeated": runs,
        "prn": len(prn_given),
        "prn_no_follow_up": len(
            [r for r in prn_given if r.pk not in follow_ups and r.corrects_id not in follow_ups]
        ),
        "prn_overrides": len([r for r in prn_given if r.prn_override_by_id]),
        "cd_without_witness": len(cd_unwitnessed),
        "cd_discrepancies": len([d for d in discrepancies if d.controlled_drug]),
        "other_discrepancies": len([d for d in discrepancies if not d.controlled_drug]),
        "fridge_excursions": len([t for t in readings if t.kind == "fridge" and t.out_of_range]),
        "room_excursions": len([t for t in readings if t.kind == "room" and t.out_of_range]),
        "awaiting_check": len(
            [
                ln
                for ln in PrescriptionLine.objects.filter(home=home)
                if ln.status == LineStatus.AWAITING_CHECK
            ]
        ),
        "allergy_unknown": len(
            [
                r
                for r in Resident.objects.filter(home=home)
                if r.is_current and r.allergy_status == "unknown"
            ]
        ),
        "incidents": len(incidents),
    }


def test_every_metric_of_the_demo_month_matches_a_naive_recount(demo):
    home, month = demo
    audit = services.audit_prepare(home=home, month=month)
    m = audit.metrics
    expected = naive(home, month, audit.metrics_at)
    d = m["doses"]
    assert d["scheduled"] == expected["scheduled"]
    assert d["self_administered"] == expected["self_administered"]
    assert d["to_give"] == expected["to_give"]
    assert d["given"] == expected["given"]
    assert d["not_given"] == expected["not_given"]
    assert {c["code"]: c["n"] for c in d["not_given_by_code"]} == expected["by_code"]
    assert {k: v for k, v in d["not_given_by_category"].items() if v} == dict(
        expected["by_category"]
    )
    assert d["gaps"] == expected["gaps"]
    assert sum(w["gaps"] for w in d["gaps_by_week"]) == expected["gaps"]
    assert d["gap_rate"] == expected["gap_rate"]
    assert d["time_sensitive_gaps"] == expected["ts_gaps"]
    assert d["late_entries"] == expected["late_entries"]
    assert d["given_late"] == expected["given_late"]
    assert d["time_sensitive_late"] == expected["ts_late"]
    assert m["refusals"]["total"] == expected["refusals"]
    assert {r["resident_id"]: r["n"] for r in m["refusals"]["by_resident"]} == expected[
        "refusals_by_resident"
    ]
    assert {r["resident_id"] for r in m["refusals"]["repeated"]} == expected["repeated"]
    assert m["prn"]["doses"] == expected["prn"]
    assert m["prn"]["without_follow_up"] == expected["prn_no_follow_up"]
    assert m["prn"]["overrides"] == expected["prn_overrides"]
    assert m["cd"]["without_witness"] == expected["cd_without_witness"] == 0
    assert m["stock"]["discrepancies"]["cd"] == expected["cd_discrepancies"]
    assert m["stock"]["discrepancies"]["other"] == expected["other_discrepancies"]
    assert m["stock"]["temperatures"]["fridge_excursions"] == expected["fridge_excursions"]
    assert m["stock"]["temperatures"]["room_excursions"] == expected["room_excursions"]
    assert m["records"]["lines_awaiting_check"] == expected["awaiting_check"]
    assert m["records"]["allergy_unknown"] == expected["allergy_unknown"]
    assert m["incidents"]["total"] == expected["incidents"] == 2
    # The demo month is not empty: the recount compared real numbers.
    assert d["given"] > 100 and d["gaps"] > 0 and m["refusals"]["total"] > 0
    assert m["prn"]["doses"] > 0 and m["cd"]["given"] > 0 and d["late_entries"] > 0


def test_reviews_overdue_and_training_match_their_own_features(demo):
    from medications.selectors import overdue_plans
    from residents.selectors import reviews_overdue
    from training.selectors import training_matrix

    home, month = demo
    m = services.audit_prepare(home=home, month=month).metrics
    day = dt.date.fromisoformat(m["as_at"])
    assert m["records"]["reviews_overdue"] == len(reviews_overdue(home, day))
    assert m["records"]["covert_overdue"] == len(overdue_plans(home, day)["covert"])
    matrix = training_matrix(home, today=day)
    assert m["training"]["overall"] == matrix.overall.percent
    assert m["training"]["staff"] == len(matrix.rows)


def test_a_dose_corrected_from_given_to_refused_counts_once_as_refused(
    home_a, unit_a, senior_a, senior2_a
):
    month = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    month = month.replace(day=1)
    month_of_records(unit_a, senior_a, senior2_a, residents=1, month=month)
    original = Administration.objects.filter(home=home_a, outcome="given").first()
    import uuid

    from emar.models import NonAdministrationCode

    Administration.objects.create(
        home=home_a,
        resident_id=original.resident_id,
        line_id=original.line_id,
        dose=original.dose,
        outcome="not_given",
        code=NonAdministrationCode.objects.get(home=home_a, code="R"),
        administered_at=original.administered_at,
        recorded_at=original.recorded_at,
        recorded_by=senior_a,
        idempotency_key=uuid.uuid4(),
        corrects=original,
        correction_reason="Wrong box ticked",
    )
    now = timezone.now()
    m = metrics.compute(home_a, month, now=now)
    expected = naive(home_a, month, now)
    assert m["doses"]["given"] == expected["given"]
    assert m["refusals"]["total"] == expected["refusals"]
    assert (
        m["doses"]["given"] + m["doses"]["not_given"] + m["doses"]["gaps"] == m["doses"]["to_give"]
    )


@pytest.mark.parametrize("size", [2, 6])
def test_the_number_of_metric_queries_does_not_grow_with_residents(
    size, home_a, unit_a, senior_a, senior2_a
):
    month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    month_of_records(unit_a, senior_a, senior2_a, residents=size, month=month)
    for _ in range(size):
        staff(home_a, "carer")
    metrics.compute(home_a, month)  # warm caches (content types, etc.)
    with CaptureQueriesContext(connection) as ctx:
        m = metrics.compute(home_a, month)
    assert m["doses"]["to_give"] > 0
    QUERIES[size] = len(ctx.captured_queries)
    if len(QUERIES) == 2:
        assert QUERIES[2] == QUERIES[6], QUERIES


QUERIES: dict[int, int] = {}
