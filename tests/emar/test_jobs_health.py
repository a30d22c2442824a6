"""R-RUN-5: the worker and beat are parts of /healthz, judged from their heartbeats; managers
are warned on the dashboard and on every page when the jobs have stopped (R-ALR-5)."""

from __future__ import annotations

import datetime as dt

import pytest
from celery.beat import ScheduleEntry, Scheduler
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from emar import jobs
from emar.celery import app as celery_app
from emar.models import JobHeartbeat
from emar.tasks import heartbeat


@pytest.fixture
def started_long_ago(monkeypatch):
    """The web process has been up for an hour: no start-up grace."""
    monkeypatch.setattr(jobs, "STARTED_AT", timezone.now() - dt.timedelta(hours=1))


@pytest.fixture
def heartbeats(db, started_long_ago):
    """Write the heartbeat rows as if beat last sent `beat` minutes ago and the worker of each
    queue last ran a heartbeat sent that many minutes ago (None: never)."""

    def write(*, beat: float | None, reminders: float | None, reports: float | None) -> None:
        now = timezone.now()
        for name, minutes in (
            (jobs.BEAT, beat),
            ("queue:reminders", reminders),
            ("queue:reports", reports),
        ):
            if minutes is None:
                JobHeartbeat.objects.filter(name=name).delete()
                continue
            at = now - dt.timedelta(minutes=minutes)
            JobHeartbeat.objects.update_or_create(
                name=name, defaults={"last_run": at, "sent_at": at, "runs": 1}
            )

    return write


def _health(client):
    response = client.get(reverse("healthz"))
    return response.status_code, response.json()


def test_healthz_reports_database_and_broker(client, heartbeats):
    heartbeats(beat=0, reminders=0, reports=0)
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "database", "broker", "worker", "beat")} == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "worker": "ok",
        "beat": "ok",
    }


def test_a_dead_worker_is_503_naming_the_worker(client, heartbeats):
    heartbeats(beat=0.5, reminders=5, reports=5)
    status, body = _health(client)
    assert status == 503
    assert body["status"] == "error" and body["beat"] == "ok"
    assert body["worker"].startswith("stale") and "reminders queue" in body["worker"]
    assert body["database"] == "ok" and body["broker"] == "ok"


def test_a_dead_reports_worker_alone_is_503(client, heartbeats):
    heartbeats(beat=0.5, reminders=0.5, reports=5)
    status, body = _health(client)
    assert status == 503
    assert "reports queue" in body["worker"] and "reminders queue" not in body["worker"]


def test_a_dead_beat_is_503_naming_beat(client, heartbeats):
    heartbeats(beat=5, reminders=5, reports=5)
    status, body = _health(client)
    assert status == 503
    assert body["beat"].startswith("stale: beat last sent a heartbeat 5 min ago")
    assert body["worker"].startswith("unknown")  # nobody sends it heartbeats to run


def test_a_late_heartbeat_within_the_threshold_is_ok(client, heartbeats):
    heartbeats(beat=2.5, reminders=2.5, reports=2.5)
    status, body = _health(client)
    assert status == 200 and body["status"] == "ok"


def test_the_threshold_comes_from_the_environment(client, heartbeats, settings):
    heartbeats(beat=5, reminders=5, reports=5)
    settings.JOBS_STALE_MINUTES = 10
    status, body = _health(client)
    assert status == 200 and body["status"] == "ok"


def test_a_fresh_start_says_starting_with_200_then_503_after_the_grace(
    client, db, monkeypatch, settings
):
    settings.JOBS_STARTUP_GRACE_MINUTES = 3
    monkeypatch.setattr(jobs, "STARTED_AT", timezone.now() - dt.timedelta(seconds=20))
    status, body = _health(client)
    assert status == 200 and body["status"] == "starting"
    assert body["worker"].startswith("starting") and body["beat"].startswith("starting")

    monkeypatch.setattr(jobs, "STARTED_AT", timezone.now() - dt.timedelta(minutes=4))
    status, body = _health(client)
    assert status == 503 and body["beat"] == "stale: beat has never sent a heartbeat"


def test_a_broken_broker_during_the_grace_is_still_503(client, db, monkeypatch):
    monkeypatch.setattr(jobs, "STARTED_AT", timezone.now())
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    status, body = _health(client)
    assert status == 503 and body["status"] == "error"


def test_beat_stamps_the_send_time_and_the_worker_records_it(db, started_long_ago):
    """The schedule entry as beat applies it: beat records its own heartbeat when it sends,
    and the worker (eager here) records the run with beat's send time."""
    entry = ScheduleEntry(
        name="heartbeat-reminders",
        app=celery_app,
        **django_settings.CELERY_BEAT_SCHEDULE["heartbeat-reminders"],
    )
    assert entry.options["queue"] == "reminders"
    Scheduler(app=celery_app, lazy=True).apply_async(entry, advance=False)
    beat = JobHeartbeat.objects.get(name=jobs.BEAT)
    ran = JobHeartbeat.objects.get(name="queue:reminders")
    assert ran.sent_at == beat.last_run and ran.last_run >= beat.last_run
    assert set(django_settings.CELERY_BEAT_SCHEDULE) >= {"heartbeat-reminders", "heartbeat-reports"}


def test_a_heartbeat_run_records_its_send_time(db):
    sent = timezone.now() - dt.timedelta(seconds=30)
    heartbeat.delay(name="queue:reports", sent_at=sent.isoformat())
    row = JobHeartbeat.objects.get(name="queue:reports")
    assert row.sent_at == sent and row.runs == 1


def test_a_heartbeat_that_waited_in_the_queue_counts_from_its_send_time(client, heartbeats):
    """A worker running heartbeats sent long ago is starved (reports ahead of reminders)."""
    heartbeats(beat=0.2, reminders=0.2, reports=0.2)
    JobHeartbeat.objects.filter(name="queue:reminders").update(
        last_run=timezone.now(), sent_at=timezone.now() - dt.timedelta(minutes=6)
    )
    status, body = _health(client)
    assert status == 503 and "reminders queue last ran a heartbeat sent 6 min ago" in body["worker"]


def test_the_dashboard_warns_managers_when_jobs_have_stopped(
    client, heartbeats, manager_a, admin_a, carer_a, home_a
):
    heartbeats(beat=10, reminders=10, reports=10)
    for person in (manager_a, admin_a):
        client.force_login(person)
        html = client.get(reverse("dashboard")).content.decode()
        assert "Background jobs have stopped" in html and 'data-testid="jobs-stopped"' in html
        assert "Stopped: reminders and escalations are not being sent." in html
        # and on other pages, in the layout
        page = client.get(reverse("staff", args=[home_a.pk])).content.decode()
        assert "Background jobs have stopped" in page
    client.force_login(carer_a)
    assert "Background jobs have stopped" not in client.get(reverse("dashboard")).content.decode()


def test_the_dashboard_says_running_when_jobs_are_alive(client, heartbeats, manager_a):
    heartbeats(beat=0.5, reminders=0.5, reports=0.5)
    client.force_login(manager_a)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Background jobs have stopped" not in html and "Running." in html


# The web node's own liveness (/healthz/web): what the container healthcheck and the load
# balancer probe, so a dead worker or beat never restarts or drains the web nodes.


def _web(client):
    response = client.get(reverse("healthz_web"))
    return response.status_code, response.json()


def test_a_dead_worker_and_beat_fail_healthz_but_not_the_web_probe(client, heartbeats):
    heartbeats(beat=10, reminders=10, reports=10)
    assert _health(client)[0] == 503
    status, body = _web(client)
    assert status == 200 and body == {"status": "ok", "database": "ok"}


def test_a_dead_broker_does_not_fail_the_web_probe(client, heartbeats, monkeypatch):
    heartbeats(beat=0, reminders=0, reports=0)
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    assert _health(client)[0] == 503
    assert _web(client)[0] == 200


def test_the_web_probe_is_503_when_the_database_does_not_answer(client, db, monkeypatch):
    from django.db import DatabaseError

    from emar import views

    class Broken:
        def __enter__(self):
            raise DatabaseError("connection refused")

        def __exit__(self, *exc):
            return False

    class NoDatabase:
        def cursor(self):
            return Broken()

    monkeypatch.setattr(views, "connection", NoDatabase())
    status, body = _web(client)
    assert status == 503
    assert body == {"status": "error", "database": "error: DatabaseError"}


def test_the_web_probe_needs_no_sign_in_and_is_never_cached(client, db):
    response = client.get(reverse("healthz_web"))
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_the_web_container_healthcheck_probes_web_only():
    from pathlib import Path

    compose = (Path(django_settings.BASE_DIR) / "docker-compose.yml").read_text()
    web = compose.split("\n  web:\n", 1)[1].split("\n  worker:\n", 1)[0]
    assert "/healthz/web" in web
