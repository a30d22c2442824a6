"""The order-preparation job on a real worker (R-ORD-1): exactly once per home and cycle when
beat sends it twice, and when the first run crashes and Celery retries it."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError

from medications import services, tasks
from medications.models import MedicineOrder, OrderItem
from medications.services import orders as order_services
from tests.conftest import embedded_celery_app, isolated_celery_app

from .conftest import NEXT_CYCLE

NOW = "2026-11-25T10:00:00+00:00"  # the order date of the next cycle (2 Dec)
NAME = "medications.tasks.orders_prepare"


@pytest.fixture
def home_with_lines(clock, qualified, make_line, cycle):
    make_line("Paracetamol 500mg tablets")
    make_line("Amlodipine 5mg tablets")
    clock("10:00")


def _fail_once(monkeypatch) -> list[int]:
    """The first preparation dies as if the database connection dropped mid-way."""
    real, calls = order_services._proposals, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(order_services, "_proposals", flaky)
    return calls


def _twice(app) -> None:
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        first = app.send_task(NAME, kwargs={"now": NOW})
        second = app.send_task(NAME, kwargs={"now": NOW})
        results = [first.get(timeout=60), second.get(timeout=60)]
    assert sorted(results) == [0, 1]
    order = MedicineOrder.objects.get()
    assert order.cycle_start == NEXT_CYCLE
    assert OrderItem.objects.filter(order=order).count() == 2


def _retried(app, monkeypatch) -> None:
    calls = _fail_once(monkeypatch)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert app.send_task(NAME, kwargs={"now": NOW}).get(timeout=60) == 1
    assert len(calls) == 2
    assert MedicineOrder.objects.count() == 1 and OrderItem.objects.count() == 2


def test_the_job_is_acks_late_with_retries_and_time_limits(settings):
    task = tasks.orders_prepare
    assert task.acks_late and task.max_retries and task.time_limit
    assert any(issubclass(OperationalError, e) for e in task.autoretry_for)
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule[NAME].minute == {20}


def test_a_crash_before_commit_leaves_nothing_and_the_retry_prepares_once(
    home_with_lines, monkeypatch
):
    _fail_once(monkeypatch)
    result = tasks.orders_prepare.apply(kwargs={"now": NOW}, throw=False).get()
    assert result == 1
    assert MedicineOrder.objects.count() == 1
    assert services.orders_due_prepare() == 0


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_embedded_broker_prepares_exactly_once(tmp_path, home_with_lines):
    _twice(embedded_celery_app(tmp_path))


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_a_crashed_preparation_exactly_once(
    tmp_path, monkeypatch, home_with_lines
):
    _retried(embedded_celery_app(tmp_path), monkeypatch)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_prepares_exactly_once(redis_url, home_with_lines):
    _twice(isolated_celery_app(redis_url, redis_url))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_retries_a_crashed_preparation_exactly_once(
    redis_url, monkeypatch, home_with_lines
):
    _retried(isolated_celery_app(redis_url, redis_url), monkeypatch)
