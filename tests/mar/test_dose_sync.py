"""Scheduled doses follow the prescriptions, but never rewrite the past (R-MAR-2, R-RX-3)."""

import datetime as dt

import time_machine

from medications import services
from medications.models import ScheduledDose
from tests.mar.conftest import at_local
from tests.medications.factories import line, times

DAY = dt.date(2026, 11, 25)


def _doses(home, day=DAY):
    return list(ScheduledDose.objects.filter(home=home, local_date=day).order_by("due_at"))


def test_sync_creates_each_dose_once(home_a, resident_a, senior_a, senior2_a):
    with time_machine.travel(at_local(home_a, DAY - dt.timedelta(days=3), "10:00"), tick=False):
        live = line(resident_a, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))
    with time_machine.travel(at_local(home_a, DAY, "07:00"), tick=False):
        first = services.doses_sync(home=home_a, start=DAY, end=DAY)
        again = services.doses_sync(home=home_a, start=DAY, end=DAY)
    assert (first.created, again.created) == (2, 0)
    doses = _doses(home_a)
    assert [d.local_time for d in doses] == [dt.time(8), dt.time(20)]
    assert all(d.line == live and d.unit == resident_a.unit for d in doses)
    morning = doses[0]
    assert morning.window_opens == at_local(home_a, DAY, "07:00")
    assert morning.window_closes == at_local(home_a, DAY, "09:00")
    assert morning.round.name == "Morning"
    assert doses[1].round.name == "Night"  # 20:00 is nearer 22:00 than 17:00


def test_a_stopped_line_leaves_future_doses_and_keeps_past_ones(
    home_a, resident_a, senior_a, senior2_a
):
    with time_machine.travel(at_local(home_a, DAY - dt.timedelta(days=3), "10:00"), tick=False):
        live = line(resident_a, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))
    with time_machine.travel(at_local(home_a, DAY, "12:00"), tick=False):
        services.doses_sync(home=home_a, start=DAY, end=DAY)
        services.line_stop(
            line=live, by=senior_a, reason="Course finished", authorised_by="Dr Test"
        )
        result = services.doses_sync(home=home_a, start=DAY, end=DAY)
    assert result.cancelled == 1
    morning, evening = _doses(home_a)
    assert morning.cancelled_at is None  # the past stays: an unrecorded 08:00 is still a gap
    assert evening.cancelled_at is not None


def test_a_line_checked_today_has_no_doses_before_its_check(
    home_a, resident_a, senior_a, senior2_a
):
    with time_machine.travel(at_local(home_a, DAY, "12:00"), tick=False):
        line(resident_a, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))
        services.doses_sync(home=home_a, start=DAY, end=DAY)
    assert [d.local_time for d in _doses(home_a)] == [dt.time(20)]


def test_a_prescription_change_resyncs_doses_when_it_commits(
    home_a, resident_a, senior_a, senior2_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(at_local(home_a, DAY - dt.timedelta(days=3), "10:00"), tick=False):
        live = line(resident_a, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))
    with time_machine.travel(at_local(home_a, DAY, "12:00"), tick=False):
        services.doses_sync(home=home_a, start=DAY, end=DAY)
        with django_capture_on_commit_callbacks(execute=True):
            services.line_stop(
                line=live, by=senior_a, reason="Course finished", authorised_by="Dr Test"
            )
    evening = ScheduledDose.objects.get(line=live, local_time=dt.time(20))
    assert evening.cancelled_at is not None  # no explicit sync: the stop did it on commit


def test_a_dose_after_midnight_belongs_to_the_night_round_before(
    home_a, resident_a, senior_a, senior2_a
):
    with time_machine.travel(at_local(home_a, DAY - dt.timedelta(days=3), "10:00"), tick=False):
        line(resident_a, senior_a, checker=senior2_a, schedule=times("01:30", "23:30", "06:30"))
    with time_machine.travel(at_local(home_a, DAY, "00:00"), tick=False):
        services.doses_sync(home=home_a, start=DAY, end=DAY)
    by_time = {d.local_time: d for d in _doses(home_a)}
    night = by_time[dt.time(1, 30)]
    assert night.round.name == "Night" and night.round_date == DAY - dt.timedelta(days=1)
    assert by_time[dt.time(23, 30)].round.name == "Night"
    assert by_time[dt.time(23, 30)].round_date == DAY
    assert by_time[dt.time(6, 30)].round.name == "Morning"
    assert by_time[dt.time(6, 30)].round_date == DAY


def test_the_night_round_screen_shows_the_doses_after_midnight(
    client, home_a, unit_a, resident_a, senior_a, senior2_a, carer_a
):
    from django.urls import reverse

    with time_machine.travel(at_local(home_a, DAY - dt.timedelta(days=3), "10:00"), tick=False):
        line(resident_a, senior_a, checker=senior2_a, schedule=times("01:30"))
    night = home_a.rounds.get(name="Night")
    with time_machine.travel(at_local(home_a, DAY, "22:05"), tick=False):
        client.force_login(carer_a)
        url = reverse("medications:round", args=[home_a.pk])
        page = client.get(f"{url}?unit={unit_a.pk}&round={night.pk}&date={DAY}").content.decode()
    assert "01:30" in page and "Upcoming" in page
