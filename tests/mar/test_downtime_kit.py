"""The downtime kit of each unit (R-OFF-4, H-10, H-13): rebuilt in the background after
prescription changes (one build for a run of changes, each change counted on exactly one build,
a crashed build run again) and daily, and served only to people who may see the home's MAR."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from pypdf import PdfReader

from emar import jobs
from medications import services
from medications.models import DowntimeKit
from tests.factories import UnitFactory
from tests.stock.conftest import oxycodone, receive  # noqa: F401

from .conftest import DAY

pytestmark = pytest.mark.django_db


def kits(unit):
    return DowntimeKit.objects.filter(unit=unit).order_by("pk")


def later(time_machine, minutes: float) -> None:
    from django.utils import timezone

    time_machine.move_to(timezone.now() + dt.timedelta(minutes=minutes), tick=False)


def sweep(django_capture_on_commit_callbacks) -> dict[str, int]:
    """The beat job, with the builds it queues run at commit (Celery is eager in tests)."""
    with django_capture_on_commit_callbacks(execute=True):
        return services.downtime_kits_sweep()


def pdf(kit) -> PdfReader:
    with kit.file.open("rb") as f:
        return PdfReader(io.BytesIO(f.read()))


def test_changes_within_the_debounce_make_one_build_that_counts_each_change(
    unit_a, make_line, qualified, time_machine, django_capture_on_commit_callbacks
):
    make_line()  # checked: one change
    make_line("Oxycodone 10mg capsules", dose_unit="capsule")  # a second change
    (waiting,) = kits(unit_a)
    assert (waiting.status, waiting.changes, waiting.reason) == ("waiting", 2, "change")

    sweep(django_capture_on_commit_callbacks)  # before the debounce has passed: nothing
    assert [k.status for k in kits(unit_a)] == ["waiting"]

    later(time_machine, settings.DOWNTIME_KIT_DEBOUNCE_MINUTES + 0.5)
    sweep(django_capture_on_commit_callbacks)
    (kit,) = kits(unit_a)
    assert (kit.status, kit.changes, kit.start, kit.charts) == ("ready", 2, kit.start, 1)
    assert kit.file.name.startswith("downtime-kits/") and kit.sha256
    assert sweep(django_capture_on_commit_callbacks)["queued"] == 0  # nothing to do again
    assert kits(unit_a).count() == 1


def test_a_change_after_its_kit_was_queued_makes_a_new_kit(
    unit_a, make_line, qualified, time_machine, django_capture_on_commit_callbacks
):
    make_line()
    later(time_machine, settings.DOWNTIME_KIT_DEBOUNCE_MINUTES + 1)
    sweep(django_capture_on_commit_callbacks)
    make_line("Oxycodone 10mg capsules", dose_unit="capsule")
    first, second = kits(unit_a)
    assert (first.status, first.changes) == ("ready", 1)
    assert (second.status, second.changes) == ("waiting", 1)
    # Exactly once: every change is counted on one kit, never two, never none.
    assert sum(k.changes for k in kits(unit_a)) == 2


def test_a_change_that_rolls_back_counts_nothing(unit_a, clock):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.downtime_kit_mark(units=[unit_a])
        raise RuntimeError("the change failed")
    assert not kits(unit_a).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_changes_and_a_sweep_at_the_same_moment_count_each_change_once(postgres, home_a, unit_a):
    """Two prescription changes and a sweep race on the unit's waiting kit: whatever the order,
    every change is counted on exactly one kit."""
    services.downtime_kit_mark(units=[unit_a], due_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(call):
        try:
            barrier.wait()
            with transaction.atomic():
                call()
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            connection.close()

    from unittest import mock

    with mock.patch("emar.jobs.build_enqueue"):
        calls = [
            lambda: services.downtime_kit_mark(units=[unit_a]),
            lambda: services.downtime_kit_mark(units=[unit_a]),
            services.downtime_kits_sweep,
        ]
        threads = [threading.Thread(target=run, args=(c,)) for c in calls]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert sum(k.changes for k in kits(unit_a)) == 3
    assert kits(unit_a).filter(status="waiting").count() <= 1


def test_a_change_of_the_home_rounds_marks_every_unit(home_a, unit_a, manager_a, clock):
    other = UnitFactory(home=home_a, name="Beech")
    from emar.services import round_save

    round_save(home=home_a, name="Lunch", time=dt.time(12, 30), by=manager_a)
    assert {k.unit for k in DowntimeKit.objects.filter(status="waiting")} >= {unit_a, other}


def test_a_crashed_build_runs_again_and_the_old_job_does_nothing(
    unit_a, make_line, qualified, time_machine, monkeypatch
):
    make_line()
    later(time_machine, settings.DOWNTIME_KIT_DEBOUNCE_MINUTES + 1)
    queued = []
    monkeypatch.setattr(jobs, "build_enqueue", lambda build: queued.append(build.pk))
    services.downtime_kits_sweep()
    kit = kits(unit_a).get()
    assert kit.status == "queued" and queued == [kit.pk]

    # The worker claims the build and dies before it finishes.
    jobs.build_start(model=DowntimeKit, pk=kit.pk, attempt=1)
    later(time_machine, settings.BUILD_STALE_MINUTES + 1)
    assert jobs.builds_stale_sweep()["retried"] >= 1
    kit.refresh_from_db()
    assert (kit.status, kit.attempt, queued) == ("queued", 2, [kit.pk, kit.pk])

    # The first job, redelivered, belongs to an earlier attempt: nothing.
    assert services.downtime_kit_build(kit_id=kit.pk, attempt=1).status == "queued"
    assert services.downtime_kit_build(kit_id=kit.pk, attempt=2).status == "ready"
    # A rerun of the finished job changes nothing.
    sha = kits(unit_a).get().sha256
    assert services.downtime_kit_build(kit_id=kit.pk, attempt=2).sha256 == sha
    assert kits(unit_a).count() == 1


def test_a_sweep_that_crashes_leaves_the_kit_waiting_for_the_next(
    unit_a, make_line, qualified, time_machine, monkeypatch, django_capture_on_commit_callbacks
):
    make_line()
    later(time_machine, settings.DOWNTIME_KIT_DEBOUNCE_MINUTES + 1)

    def boom(build):
        raise ConnectionError("broker down")

    monkeypatch.setattr(jobs, "build_enqueue", boom)
    with pytest.raises(ConnectionError):
        services.downtime_kits_sweep()
    assert kits(unit_a).get().status == "waiting"
    monkeypatch.undo()
    sweep(django_capture_on_commit_callbacks)
    assert kits(unit_a).get().status == "ready"


def test_each_unit_gets_a_daily_kit_once_a_day(
    home_a, unit_a, clock, time_machine, django_capture_on_commit_callbacks
):
    clock("00:30", DAY)
    result = sweep(django_capture_on_commit_callbacks)
    assert result["daily"] >= 1
    (kit,) = kits(unit_a)
    assert (kit.reason, kit.status, kit.start, kit.days) == ("daily", "ready", DAY, 3)
    clock("23:30", DAY)
    sweep(django_capture_on_commit_callbacks)
    assert kits(unit_a).count() == 1  # still today's
    clock("00:01", DAY + dt.timedelta(days=1))
    sweep(django_capture_on_commit_callbacks)
    assert [k.start for k in kits(unit_a)] == [DAY, DAY + dt.timedelta(days=1)]


def test_the_kit_holds_three_days_of_mar_and_the_cd_register_pages(
    unit_a,
    resident_a,
    oxycodone,  # noqa: F811
    senior_a,
    senior2_a,
    qualified,
    clock,
    django_capture_on_commit_callbacks,
):
    receive(oxycodone, senior_a, "28", witness=senior2_a)
    clock("09:00", DAY)
    DowntimeKit.objects.all().delete()
    sweep(django_capture_on_commit_callbacks)
    kit = kits(unit_a).get()
    assert (kit.charts, kit.cd_pages) == (1, 1)
    reader = pdf(kit)
    assert reader.metadata.title == "Downtime MAR — Oak, Home A"
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Edith Clarke" in text and "MAR chart printed 25 Nov 2026 09:00" in text
    assert "Controlled drugs register — Oxycodone 10mg capsules" in text
    assert "Received" in text and "Boots, High Street" in text


def test_the_downtime_mar_link_serves_the_latest_kit_to_readers_only(
    client,
    home_a,
    unit_a,
    resident_a,
    carer_a,
    inspector_a,
    carer_b,
    clock,
    django_capture_on_commit_callbacks,
):
    url = reverse("medications:downtime_mar", args=[home_a.pk, unit_a.pk])
    client.force_login(carer_a)
    response = client.get(url)
    assert response.status_code == 404 and "has not been built yet" in response.content.decode()

    clock("09:00", DAY)
    sweep(django_capture_on_commit_callbacks)
    kit = kits(unit_a).get()
    for person in (carer_a, inspector_a):
        client.force_login(person)
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response["Cache-Control"] == "private, no-store"
        assert f"downtime-mar-oak-{kit.start:%Y-%m-%d}.pdf" in response["Content-Disposition"]
        assert b"".join(response.streaming_content).startswith(b"%PDF")

    client.force_login(carer_a)
    round_page = client.get(reverse("medications:round", args=[home_a.pk])).content.decode()
    assert f'href="{url}"' in round_page and "Downtime MAR" in round_page

    client.force_login(carer_b)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url)["Location"].startswith("/login/")
