"""The reminder jobs on Celery (R-ALR-5): retried after a failure, run by a real worker on the
embedded broker and on Redis, and still exactly once."""

from __future__ import annotations

import pytest
import time_machine
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError

from emar.models import Notification
from medications import reminders, tasks
from medications.models import ScheduledDose
from tests.conftest import embedded_celery_app, isolated_celery_app
from tests.mar.conftest import at_local

from .conftest import DAY, on_shift

OPENING = "2026-11-25T07:00:00+00:00"


@pytest.fixture
def shifts(home_a, unit_a, carer_a, senior_a):
    on_shift(carer_a, home_a, unit_a)
    on_shift(senior_a, home_a, None)


def _fail_once(monkeypatch) -> list[int]:
    """The first insert of notifications fails as if the database connection dropped."""
    real, calls = reminders._notifications_insert, []

    def flaky(pending, **kw):
        calls.append(len(pending))
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(pending, **kw)

    monkeypatch.setattr(reminders, "_notifications_insert", flaky)
    return calls


def test_a_sweep_that_fails_once_is_retried_and_notifies_once(monkeypatch, oak, shifts):
    calls = _fail_once(monkeypatch)
    # In-process (eager) runs retry only when errors are not propagated to the caller.
    result = tasks.dose_reminders_sweep.apply(kwargs={"now": OPENING}, throw=False).get()
    assert len(calls) == 2
    assert result["round_open"] == 2
    assert Notification.objects.filter(kind="round_open").count() == 2


def test_the_tasks_are_acks_late_with_retries_and_time_limits():
    for task in (
        tasks.dose_reminders_sweep,
        tasks.doses_sync_all,
        tasks.prn_follow_up_alerts,
        tasks.medicines_daily_alerts,
    ):
        assert task.acks_late
        assert any(issubclass(OperationalError, e) for e in task.autoretry_for)
        assert task.max_retries and task.time_limit and task.soft_time_limit


def test_beat_runs_the_sweep_every_minute_and_the_sync_every_ten(settings):
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["medications.tasks.dose_reminders_sweep"].minute == set(range(60))
    assert schedule["medications.tasks.doses_sync_all"].minute == set(range(0, 60, 10))
    assert schedule["medications.tasks.medicines_daily_alerts"].hour == {7}


def test_doses_sync_all_materialises_every_homes_doses(home_a, home_b, oak):
    ScheduledDose.objects.all().delete()
    with time_machine.travel(at_local(home_a, DAY, "06:00"), tick=False):
        created = tasks.doses_sync_all.delay().get()
    # Yesterday, today and tomorrow: Edith 2 + 1, Fred 1 a day.
    assert created == 3 * 4
    assert ScheduledDose.objects.filter(local_date=DAY).count() == 4


# --- A real worker ------------------------------------------------------------------------------


def _app(broker_url: str, backend: str) -> Celery:
    return isolated_celery_app(broker_url, backend)


def _embedded(tmp_path) -> Celery:
    return embedded_celery_app(tmp_path)


def _sweep_twice_through(app: Celery) -> None:
    name = "medications.tasks.dose_reminders_sweep"
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        first = app.send_task(name, kwargs={"now": OPENING})
        second = app.send_task(name, kwargs={"now": OPENING})
        results = [first.get(timeout=60), second.get(timeout=60)]
    assert sorted(r["round_open"] for r in results) == [0, 2]
    assert sorted(Notification.objects.values_list("recipient__username", "kind")) == [
        ("carer_a", "round_open"),
        ("senior_a", "round_open"),
    ]


def _retried_through(app: Celery, monkeypatch) -> None:
    calls = _fail_once(monkeypatch)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = app.send_task("medications.tasks.dose_reminders_sweep", kwargs={"now": OPENING})
        assert result.get(timeout=60)["round_open"] == 2
    assert len(calls) == 2
    assert Notification.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_embedded_broker_notifies_once_when_sent_twice(tmp_path, oak, shifts):
    _sweep_twice_through(_embedded(tmp_path))


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_embedded_broker_retries_and_notifies_once(
    tmp_path, monkeypatch, oak, shifts
):
    _retried_through(_embedded(tmp_path), monkeypatch)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_notifies_once_when_sent_twice(redis_url, oak, shifts):
    _sweep_twice_through(_app(redis_url, redis_url))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_retries_and_notifies_once(redis_url, monkeypatch, oak, shifts):
    _retried_through(_app(redis_url, redis_url), monkeypatch)
