"""R-DASH-1, R-DASH-2: the dashboards' figures against rows made here, each with its zero case
and a record of another home that must not count; the provider dashboard's omission rate is the
audit's; sorting, CSV; and the number of queries does not grow with residents or homes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audits import dashboard, metrics
from audits.models import Audit, AuditAction
from emar.models import NonAdministrationCode
from medications import services as medication_services
from medications.models import Administration, ScheduledDose
from medications.models.stock import Stock, StorageLocation, TemperatureReading
from tests.factories import HomeFactory, UnitFactory, staff
from tests.medications.factories import line, times
from tests.residents.factories import resident
from training.models import CompetencyAssessment, Course, TrainingRecord
from training.selectors import training_matrix

LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 6, 10, 14, 0, tzinfo=LONDON)  # the morning round's window has closed
TODAY = NOW.date()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def before():
    return time_machine.travel(NOW - dt.timedelta(days=2), tick=False)


def _doses(home):
    medication_services.doses_sync(home=home, start=TODAY, end=TODAY)
    return ScheduledDose.objects.filter(home=home, local_date=TODAY, cancelled_at__isnull=True)


def record(dose, by, outcome="given", *, at=None, code=None, **kw):
    return Administration.objects.create(
        home_id=dose.home_id,
        resident_id=dose.resident_id,
        line_id=dose.line_id,
        dose=dose,
        outcome=outcome,
        code=code,
        quantity=Decimal(1) if outcome == "given" else None,
        administered_at=at or dose.due_at,
        recorded_at=at or dose.due_at,
        recorded_by=by,
        idempotency_key=uuid.uuid4(),
        **kw,
    )


def prn_record(prn_line, by, at):
    return Administration.objects.create(
        home_id=prn_line.home_id,
        resident_id=prn_line.resident_id,
        line_id=prn_line.pk,
        dose=None,
        outcome="given",
        quantity=Decimal(1),
        administered_at=at,
        recorded_at=at,
        recorded_by=by,
        prn_reason="Headache",
        idempotency_key=uuid.uuid4(),
    )


@pytest.fixture
def day(frozen, home_a, unit_a, senior_a, senior2_a, home_b, carer_b):
    """Home A today: four residents on 08:00 and 22:00 (given, given late, missed, refused),
    a CD line, a PRN dose; home B: a missed dose and a PRN dose, which must not count."""
    with before():  # lines are live from their check (R-RX-3, R-RX-4)
        people = [resident(unit_a, senior_a) for _ in range(4)]
        for person in people:
            line(person, senior_a, checker=senior2_a, schedule=times("08:00", "22:00"))
        cd_person = resident(unit_a, senior_a)
        line(
            cd_person,
            senior_a,
            checker=senior2_a,
            name="Morphine 10mg tablets",
            schedule=times("22:00"),
        )
        prn = line(people[0], senior_a, checker=senior2_a, prn=True, name="Ibuprofen 200mg tablets")
    doses = list(_doses(home_a).filter(local_time=dt.time(8)).order_by("resident__full_name"))
    assert len(doses) == 4
    refused = NonAdministrationCode.objects.get(home=home_a, code="R")
    record(doses[0], senior_a)
    late = doses[1].window_closes + dt.timedelta(minutes=30)
    record(doses[1], senior_a, at=late, late=True, late_reason="Resident was out")
    # doses[2]: nothing recorded, a gap
    record(doses[3], senior_a, "not_given", code=refused)
    prn_record(prn, senior_a, NOW - dt.timedelta(hours=3))
    prn_record(prn, senior_a, NOW - dt.timedelta(days=1))  # yesterday: not today's

    unit_b = UnitFactory(home=home_b, name="Elm")
    senior_b = staff(home_b, "senior")
    senior2_b = staff(home_b, "senior")
    with before():
        other = resident(unit_b, senior_b)
        line(other, senior_b, checker=senior2_b, schedule=times("08:00"))
        prn_b = line(other, senior_b, checker=senior2_b, prn=True, name="Ibuprofen 200mg tablets")
    _doses(home_b)
    prn_record(prn_b, senior_b, NOW - dt.timedelta(hours=1))
    return {"doses": doses, "people": people, "cd_person": cd_person, "prn": prn}


def test_rounds_count_given_not_given_open_and_gaps_per_unit_and_round(day, home_a, unit_a):
    fig = dashboard.home_figures(home_a)
    rows = {(r.unit.name, r.round.name if r.round else None): r for r in fig.rounds}
    morning = next(r for r in fig.rounds if r.round and r.round.time == dt.time(8))
    night = next(r for r in fig.rounds if r.round and r.round.time == dt.time(22))
    assert (morning.due, morning.given, morning.not_given, morning.open, morning.gaps) == (
        4,
        2,
        1,
        0,
        1,
    )
    assert (night.due, night.given, night.open, night.gaps) == (5, 0, 5, 0)
    assert morning.percent_done == 75
    # every round of the unit is listed, with nothing due as zero
    lunch = next(r for r in fig.rounds if r.round and r.round.time == dt.time(12))
    assert (lunch.due, lunch.percent_done) == (0, 0)
    assert all(unit == "Oak" for unit, _ in rows)
    assert (fig.due, fig.given, fig.not_given, fig.open, fig.gaps) == (9, 2, 1, 5, 1)


def test_missed_and_late_doses_name_resident_medicine_and_time(day, home_a):
    fig = dashboard.home_figures(home_a)
    assert [d.pk for d in fig.missed] == [day["doses"][2].pk]
    assert fig.missed_count == 1
    assert [a.dose_id for a in fig.late] == [day["doses"][1].pk]
    assert fig.late_count == 1
    assert fig.missed[0].resident.full_name and fig.missed[0].line.medicine.name


def test_a_corrected_record_counts_by_its_correction(day, home_a, senior_a):
    given = Administration.objects.get(dose=day["doses"][0])
    voided = record(
        day["doses"][0],
        senior_a,
        "not_given",
        code=NonAdministrationCode.objects.get(home=home_a, code="R"),
        corrects=given,
        correction_reason="Wrong resident ticked",
    )
    assert voided.pk
    fig = dashboard.home_figures(home_a)
    assert (fig.given, fig.not_given) == (1, 2)


def test_prn_and_cd_doses_today(day, home_a, home_b):
    fig = dashboard.home_figures(home_a)
    assert fig.prn_count == 1  # yesterday's and home B's are not today's here
    assert [a.prn_reason for a in fig.prn] == ["Headache"]
    assert (fig.cd_due, fig.cd_open) == (1, 1)
    other = dashboard.home_figures(home_b)
    assert (other.prn_count, other.cd_due, other.missed_count, other.due) == (1, 0, 1, 1)


def test_nothing_today_is_all_zero(frozen, home_a, unit_a):
    fig = dashboard.home_figures(home_a)
    assert (fig.due, fig.missed_count, fig.late_count, fig.prn_count, fig.cd_due) == (0,) * 5
    assert (fig.stock_alerts, fig.temperature_alerts, fig.actions_open) == (0, 0, 0)
    assert fig.training == [] and fig.unlogged == []
    assert {r.round.name for r in fig.rounds} == {"Morning", "Lunchtime", "Teatime", "Night"}
    assert all(r.due == 0 for r in fig.rounds)


def test_stock_alerts_are_lines_out_or_under_a_week(day, home_a):
    lines = [d.line for d in day["doses"]]
    Stock.objects.create(
        line=lines[0], home=home_a, resident=lines[0].resident, balance=Decimal(100)
    )
    Stock.objects.create(line=lines[1], home=home_a, resident=lines[1].resident, balance=3)
    fig = dashboard.home_figures(home_a)
    alerted = {ln.pk: level for ln, level in fig.low_stock}
    assert lines[0].pk not in alerted  # 100 tablets at two a day
    assert alerted[lines[1].pk].days_left == 1 and not alerted[lines[1].pk].out
    assert alerted[lines[2].pk].out  # nothing booked in
    assert day["prn"].pk in alerted  # a PRN line with none left


def test_temperature_excursions_today_and_rooms_not_logged(frozen, home_a, senior_a, home_b):
    fridge = StorageLocation.objects.create(home=home_a, name="Fridge", kind="fridge")
    room = StorageLocation.objects.create(home=home_a, name="Room", kind="room")
    StorageLocation.objects.create(home=home_a, name="Old fridge", kind="fridge", active=False)
    other = StorageLocation.objects.create(home=home_b, name="B fridge", kind="fridge")

    def reading(location, lo, hi, day=TODAY, action=""):
        return TemperatureReading.objects.create(
            home=location.home,
            location=location,
            kind=location.kind,
            local_date=day,
            taken_at=NOW,
            current=lo,
            minimum=lo,
            maximum=hi,
            action_taken=action,
            by=senior_a,
            idempotency_key=uuid.uuid4(),
        )

    fig = dashboard.home_figures(home_a)
    assert fig.excursions == [] and [loc.name for loc in fig.unlogged] == ["Fridge", "Room"]
    reading(fridge, Decimal("1.5"), Decimal("9"), day=TODAY - dt.timedelta(days=1), action="x")
    reading(other, Decimal("1"), Decimal("12"), action="Moved stock")
    reading(room, Decimal("20"), Decimal("24"))
    fig = dashboard.home_figures(home_a)
    assert fig.excursions == [] and [loc.name for loc in fig.unlogged] == ["Fridge"]
    out = reading(fridge, Decimal("3"), Decimal("9.5"), action="Called the pharmacist")
    fig = dashboard.home_figures(home_a)
    assert fig.excursions == [out] and fig.unlogged == []


def test_training_expiry_is_the_training_matrix(frozen, home_a, manager_a, carer_a, home_b):
    course = Course.objects.get(code="safe_handling")
    data = Course.objects.get(code="data_security")
    carer_b = staff(home_b, "carer")

    def trained(person, c, expires, home=home_a):
        TrainingRecord.objects.create(
            home=home,
            person=person,
            course=c,
            completed_on=TODAY - dt.timedelta(days=300),
            expires_on=expires,
            recorded_by=manager_a,
            recorded_at=NOW,
        )

    trained(carer_a, course, TODAY + dt.timedelta(days=10))  # expiring
    trained(carer_a, data, TODAY - dt.timedelta(days=1))  # expired
    trained(manager_a, course, TODAY + dt.timedelta(days=200))  # in date
    trained(carer_b, course, TODAY + dt.timedelta(days=3), home=home_b)  # other home
    CompetencyAssessment.objects.create(
        home=home_a,
        person=carer_a,
        category="oral",
        assessor=manager_a,
        assessed_on=TODAY - dt.timedelta(days=350),
        outcome="competent",
        expires_on=TODAY + dt.timedelta(days=15),
        recorded_at=NOW,
    )
    fig = dashboard.home_figures(home_a)
    assert (fig.training_expired, fig.training_expiring) == (1, 2)
    matrix = training_matrix(home_a, today=TODAY)
    cells = [c for row in matrix.rows for c in row.courses + row.competencies]
    assert fig.training_expiring == sum(c.status == "expiring" for c in cells)
    assert fig.training_expired == sum(c.status == "expired" for c in cells)


def test_open_and_overdue_audit_actions(frozen, home_a, manager_a, home_b):
    audit = Audit.objects.create(home=home_a, month=dt.date(2026, 5, 1))
    other = Audit.objects.create(home=home_b, month=dt.date(2026, 5, 1))

    def action(a, due, status="open", **kw):
        return AuditAction.objects.create(
            home=a.home,
            raised_in=a,
            description="Lock the trolley",
            owner=manager_a,
            due_on=due,
            status=status,
            created_by=manager_a,
            **kw,
        )

    assert dashboard.home_figures(home_a).actions_open == 0
    action(audit, TODAY - dt.timedelta(days=1))
    action(audit, TODAY + dt.timedelta(days=5), "in_progress")
    action(audit, TODAY - dt.timedelta(days=9), "done", closed_in=audit)
    action(other, TODAY - dt.timedelta(days=1))
    fig = dashboard.home_figures(home_a)
    assert (fig.actions_open, fig.actions_overdue) == (2, 1)


def test_the_omission_rate_is_the_audit_metric(day, home_a, home_b):
    figs = {f.home.pk: f for f in dashboard.provider_figures([home_a, home_b])}
    for home in (home_a, home_b):
        m = metrics.compute(home, TODAY.replace(day=1))
        assert figs[home.pk].gap_rate == m["doses"]["gap_rate"]
        assert figs[home.pk].gaps_month == m["doses"]["gaps"]
    assert figs[home_a.pk].gap_rate == 25.0  # one gap of the four doses whose window closed


def test_last_signed_audit_score_and_six_month_trend(frozen, home_a, manager_a):
    def audit(month, score, status="signed"):
        signed = {"signed_by": manager_a, "signed_at": NOW} if status == "signed" else {}
        return Audit.objects.create(
            home=home_a,
            month=month,
            status=status,
            score=score,
            rag={None: ""}.get(score, "green" if (score or 0) >= 90 else "red"),
            **signed,
        )

    assert dashboard.provider_figures([home_a])[0].last_score is None
    audit(dt.date(2025, 11, 1), 50)  # seven months back: not in the trend
    audit(dt.date(2026, 3, 1), 95)
    audit(dt.date(2026, 5, 1), 60, status="draft")  # not signed: not the last score
    fig = dashboard.provider_figures([home_a])[0]
    assert (fig.last_score, fig.last_rag, fig.last_month) == (95, "green", dt.date(2026, 3, 1))
    assert [t["month"] for t in fig.trend] == [dt.date(2026, 3, 1), dt.date(2026, 5, 1)]
    svg = str(fig.trend_chart.svg)
    assert svg.startswith("<svg") and "95%" in svg and "Mar" in svg and "Dec" in svg
    assert svg.count(">–</text>") == 5  # months with no signed audit show a dash, not 0%


def test_provider_dashboard_sorts_and_refuses_unknown_sorts(day, client, admin_a, home_a):
    second = HomeFactory(provider=home_a.provider, name="Another Home")
    client.force_login(admin_a)
    url = reverse("provider_dashboard", args=[home_a.provider_id])
    names = [f.home.name for f in client.get(url).context["figs"]]
    assert names == ["Another Home", "Home A"]
    names = [f.home.name for f in client.get(url + "?sort=-missed").context["figs"]]
    assert names == ["Home A", "Another Home"]
    names = [f.home.name for f in client.get(url + "?sort=missed").context["figs"]]
    assert names == ["Another Home", "Home A"]
    assert second.pk
    for bad in ("?sort=password", "?sort=--home", "?sort="):
        response = client.get(url + bad)
        assert response.status_code == (200 if bad == "?sort=" else 400), bad


def test_provider_csv_export(day, client, admin_a, home_a):
    client.force_login(admin_a)
    response = client.get(reverse("provider_dashboard_csv", args=[home_a.provider_id]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="provider-dashboard-provider-a-2026-06-10-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, (row,) = rows[0], rows[1:]
    values = dict(zip(header, row, strict=True))
    assert values["Home"] == "Home A"
    assert (values["Doses due"], values["Missed (gaps)"], values["PRN given"]) == ("9", "1", "1")


def test_home_panel_polls_without_counting_as_activity(day, client, manager_a, home_a):
    client.force_login(manager_a)
    page = client.get("/").content.decode()
    assert 'data-testid="home-dashboard"' in page
    assert 'hx-trigger="every 60s' in page and "X-EMAR-Poll" in page
    panel = client.get(reverse("home_dashboard_panel", args=[home_a.pk]))
    assert panel.status_code == 200
    assert 'data-testid="dash-missed">1<' in panel.content.decode()


def test_the_poll_does_not_keep_a_tablet_signed_in(day, client, senior_a, home_a):
    from emar.middleware import LAST_SEEN

    client.force_login(senior_a)
    client.get("/")
    session = client.session
    session[LAST_SEEN] = session[LAST_SEEN] - 120
    session.save()
    seen = client.session[LAST_SEEN]
    url = reverse("home_dashboard_panel", args=[home_a.pk])
    assert client.get(url, HTTP_X_EMAR_POLL="1").status_code == 200
    assert client.session[LAST_SEEN] == seen
    client.get(url)  # without the header it is activity
    assert client.session[LAST_SEEN] > seen


def test_a_manager_sees_the_stopped_jobs_warning_once(day, client, manager_a, senior_a, home_a):
    from unittest import mock

    from emar import jobs

    stopped = jobs.JobsHealth(worker="stale: no heartbeat", beat="stale: no heartbeat")
    url = reverse("home_dashboard_panel", args=[home_a.pk])
    with mock.patch.object(jobs, "jobs_health", return_value=stopped):
        client.force_login(manager_a)
        page = client.get("/").content.decode()
        assert page.count("Background jobs have stopped") == 1  # the layout's
        polled = client.get(url, HTTP_X_EMAR_POLL="1").content.decode()
        assert 'data-testid="dash-jobs-stopped"' in polled
        assert '<div id="jobs-alert" hx-swap-oob="true"></div>' in polled
        client.force_login(senior_a)
        page = client.get("/").content.decode()
        assert page.count("Background jobs have stopped") == 1  # the panel's
        assert 'data-testid="dash-jobs-stopped"' in page


def test_carers_and_inspectors_have_no_home_dashboard(day, client, carer_a, inspector_a):
    for person in (carer_a, inspector_a):
        client.force_login(person)
        assert 'data-testid="home-dashboard"' not in client.get("/").content.decode()


# --- the number of queries does not grow -----------------------------------------------------


def _home_with(provider, residents: int, by_name: str):
    home = HomeFactory(provider=provider, name=by_name)
    unit = UnitFactory(home=home, name="Ward")
    senior = staff(home, "senior")
    checker = staff(home, "senior")
    with before():
        for _ in range(residents):
            person = resident(unit, senior)
            line(person, senior, checker=checker, schedule=times("08:00", "22:00"))
    doses = list(_doses(home).filter(local_time=dt.time(8)))
    for i, dose in enumerate(doses):
        if i % 3:
            record(dose, senior)
    staff(home, "carer")
    return home, senior


def _panel_queries(client, home, user) -> int:
    client.force_login(user)
    url = reverse("home_dashboard_panel", args=[home.pk])
    client.get(url)  # warm caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, HTTP_X_EMAR_POLL="1")
    assert response.status_code == 200
    return len(ctx.captured_queries)


HOME_QUERY_CEILING = 30


def test_home_dashboard_queries_do_not_grow_with_residents(frozen, client, provider_a):
    small, senior_small = _home_with(provider_a, 5, "Small")
    big, senior_big = _home_with(provider_a, 60, "Big")
    assert dashboard.home_figures(big).due == 120
    n_small = _panel_queries(client, small, senior_small)
    n_big = _panel_queries(client, big, senior_big)
    assert n_small == n_big <= HOME_QUERY_CEILING, (n_small, n_big)


PROVIDER_QUERY_CEILING = 40


def test_provider_dashboard_queries_do_not_grow_with_homes(db, frozen, client):
    from tests.factories import ProviderFactory, UserFactory

    counts = {}
    for size in (2, 20):
        provider = ProviderFactory(name=f"Group of {size}")
        for i in range(size):
            _home_with(provider, 2, f"{provider.name} home {i}")
        admin = UserFactory(username=f"admin{size}", admin_of=provider)
        client.force_login(admin)
        url = reverse("provider_dashboard", args=[provider.pk])
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert len(response.context["figs"]) == size
        counts[size] = len(ctx.captured_queries)
    assert counts[2] == counts[20] <= PROVIDER_QUERY_CEILING, counts
