"""R-RUN-5 health check, and a task sent from the web process executed by a real worker, on
the embedded broker and on Redis (R-RUN-1, R-ALR-5)."""

from __future__ import annotations

import time

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.urls import reverse

from emar.celery import app as emar_app
from emar.models import JobHeartbeat
from tests.conftest import embedded_celery_app, isolated_celery_app


def test_healthz_is_503_and_names_the_broker_when_it_is_down(client, db, monkeypatch):
    monkeypatch.setattr(emar_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert response.json()["database"] == "ok"


def _run_heartbeat_through(app: Celery) -> None:
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        app.send_task("emar.tasks.heartbeat", kwargs={"name": "sent-from-web"})
        # Watch the database, not the result backend: the worker's write is what matters.
        deadline = time.monotonic() + 30
        while not JobHeartbeat.objects.filter(name="sent-from-web").exists():
            assert time.monotonic() < deadline, "the worker did not run the task in 30 s"
            time.sleep(0.1)
    beat = JobHeartbeat.objects.get(name="sent-from-web")
    assert beat.runs == 1


@pytest.mark.django_db(transaction=True)
def test_embedded_broker_runs_a_task_in_a_real_worker(tmp_path):
    _run_heartbeat_through(embedded_celery_app(tmp_path))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_redis_broker_runs_a_task_in_a_real_worker(redis_url):
    _run_heartbeat_through(isolated_celery_app(redis_url, redis_url))
