"""R-ALR-5: reminders and escalations have their own queue and worker, which reports can never
starve (README "Background jobs")."""

from __future__ import annotations

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from emar.celery import app as emar_app
from emar.models import JobHeartbeat
from tests.conftest import embedded_celery_app

REMINDERS = {
    "emar.tasks.heartbeat",
    "emar.tasks.notification_email",
    "emar.tasks.builds_stale_sweep",
    "medications.tasks.dose_reminders_sweep",
    "medications.tasks.doses_sync_all",
    "medications.tasks.downtime_kits_sweep",
    "medications.tasks.prn_follow_up_alerts",
    "medications.tasks.medicines_daily_alerts",
    "training.tasks.training_expiry_alerts",
}
REPORTS = {
    "audits.tasks.audit_report_build",
    "audits.tasks.evidence_pack_build",
    "audits.tasks.monthly_audits_prepare",
    "medications.tasks.mar_print_build",
    "medications.tasks.downtime_kit_build",
}


def _queue(name: str) -> str:
    emar_app.loader.import_default_modules()
    route = emar_app.amqp.router.route({}, name)
    return route["queue"].name


@pytest.mark.parametrize("name", sorted(REMINDERS))
def test_reminders_and_escalations_run_on_the_reminders_queue(name):
    assert name in emar_app.tasks
    assert _queue(name) == "reminders"


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_reports_run_on_the_reports_queue(name):
    assert name in emar_app.tasks
    assert _queue(name) == "reports"


def test_every_task_of_the_project_is_on_one_of_the_two_queues():
    """Anything not routed runs with the reminders, so a long job must be routed to reports."""
    emar_app.loader.import_default_modules()
    apps = {"emar", "medications", "audits", "training", "residents"}
    ours = {n for n in emar_app.tasks if n.split(".")[0] in apps}
    assert {_queue(n) for n in ours} == {"reminders", "reports"}
    assert {n for n in ours if _queue(n) == "reports"} == REPORTS


def test_each_queue_gets_its_own_heartbeat_from_beat():
    queues = {
        entry["options"]["queue"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] == "emar.tasks.heartbeat"
    }
    assert queues == {"reminders", "reports"}


@pytest.mark.django_db(transaction=True)
def test_a_long_report_does_not_hold_up_the_reminders(tmp_path, monkeypatch):
    """Two real workers as in `make run` and docker-compose: the reports worker is busy with a
    long evidence pack, and a minute's dose sweep and heartbeat still run at once."""
    from audits import services as audit_services

    release, started = threading.Event(), threading.Event()

    def long_build(*, pack_id: int, attempt=None):
        started.set()
        assert release.wait(60), "the test never released the long report"
        return audit_services.EvidencePack(pk=pack_id, status="ready")

    monkeypatch.setattr(audit_services, "evidence_pack_build", long_build)
    app = embedded_celery_app(tmp_path)
    default = app.conf.task_default_queue
    routes = app.conf.task_routes
    assert routes["audits.tasks.evidence_pack_build"]["queue"] == f"{default}-reports"
    try:
        with (
            start_worker(
                app,
                pool="solo",
                perform_ping_check=False,
                shutdown_timeout=30,
                queues=[default],
                hostname="reminders@test",
            ),
            start_worker(
                app,
                pool="solo",
                perform_ping_check=False,
                shutdown_timeout=30,
                queues=[f"{default}-reports"],
                hostname="reports@test",
            ),
        ):
            app.send_task("audits.tasks.evidence_pack_build", args=[1])
            assert started.wait(30), "the reports worker did not start the long report"
            sweep = app.send_task("medications.tasks.dose_reminders_sweep")
            app.send_task("emar.tasks.heartbeat", kwargs={"name": "queue:reminders"})
            assert set(sweep.get(timeout=30)) >= {"doses", "missed"}
            deadline = time.monotonic() + 30
            while not JobHeartbeat.objects.filter(name="queue:reminders").exists():
                assert time.monotonic() < deadline, "the heartbeat waited behind the report"
                time.sleep(0.1)
            assert not release.is_set()  # the report was still running all along
            release.set()
    finally:
        release.set()
