"""The minute sweep: rounds opening, time-sensitive doses due soon, missed doses escalated
(R-ALR-1, R-ALR-2, R-ALR-4; hazards H-3, H-7)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from emar.models import Notification
from medications.models import ScheduledDose
from medications.reminders import dose_reminders_sweep
from tests.mar.conftest import at_local
from tests.residents.factories import resident

from .conftest import DAY, dose_of, live_line, on_shift, record, sync


def _sent(kind: str, **filters) -> list[tuple[str, str, str]]:
    return sorted(
        Notification.objects.filter(kind=kind, **filters).values_list(
            "recipient__username", "subject", "window"
        )
    )


@pytest.fixture
def shifts(home_a, unit_a, unit_elm, carer_a, carer_elm, carer_off, senior_a, manager_a):
    on_shift(carer_a, home_a, unit_a)
    on_shift(carer_elm, home_a, unit_elm)
    on_shift(senior_a, home_a, None)  # in charge of the whole home


# --- R-ALR-1: a round opens --------------------------------------------------------------------


def test_a_round_opening_tells_each_carer_on_shift_for_that_unit_once(home_a, unit_a, oak, shifts):
    result = dose_reminders_sweep(now=at_local(home_a, DAY, "07:00"))

    assert result.round_open == 2
    window = "2026-11-25T07:00:00+00:00"
    # Not the carer on Elm, not the carer who is off shift, not the manager (not on shift).
    assert _sent("round_open") == [
        ("carer_a", f"unit:{unit_a.pk}", window),
        ("senior_a", f"unit:{unit_a.pk}", window),
    ]
    note = Notification.objects.filter(kind="round_open").first()
    assert note.title == "Morning round open in Oak: 2 doses for 2 residents"
    assert "Edith Clarke (12)" in note.body and not note.urgent
    assert note.link.startswith(f"/homes/{home_a.pk}/round/?unit={unit_a.pk}&date=2026-11-25")


def test_the_sweep_run_again_or_later_in_the_lookback_adds_nothing(home_a, oak, shifts):
    first = dose_reminders_sweep(now=at_local(home_a, DAY, "07:00"))
    again = dose_reminders_sweep(now=at_local(home_a, DAY, "07:00"))
    later = dose_reminders_sweep(now=at_local(home_a, DAY, "07:20"))
    assert first.round_open == 2
    assert (again.round_open, later.round_open) == (0, 0)
    assert Notification.objects.count() == 2


def test_a_dose_not_yet_open_or_already_recorded_is_not_reminded(home_a, oak, shifts, carer_a):
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "06:59")).round_open == 0
    record(dose_of(oak["fred"], "08:00"), carer_a)
    dose_reminders_sweep(now=at_local(home_a, DAY, "07:01"))
    assert Notification.objects.get(recipient=carer_a).title.endswith("1 dose for 1 resident")


def test_nobody_is_told_of_another_homes_round(home_a, oak, shifts, home_b, unit_b, carer_b):
    on_shift(carer_b, home_b, unit_b)
    dose_reminders_sweep(now=at_local(home_a, DAY, "07:00"))
    assert not Notification.objects.filter(recipient=carer_b).exists()
    assert not Notification.objects.filter(home=home_b).exists()


# --- R-ALR-1, R-RX-7: time-sensitive doses ahead of time ---------------------------------------


def test_a_time_sensitive_dose_is_reminded_15_minutes_ahead_once(home_a, oak, shifts):
    dose = dose_of(oak["edith_ts"], "10:00")
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:44")).time_sensitive == 0
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:45")).time_sensitive == 2
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:50")).time_sensitive == 0
    sent = Notification.objects.filter(kind="time_sensitive_due")
    assert sorted(sent.values_list("recipient__username", flat=True)) == ["carer_a", "senior_a"]
    assert {(n.subject, n.urgent) for n in sent} == {(f"dose:{dose.pk}", True)}
    assert "due at 10:00" in sent[0].title


# --- R-ALR-2: a window closes unrecorded -------------------------------------------------------


def test_a_window_closing_unrecorded_escalates_once_to_the_senior_and_managers(
    home_a, oak, shifts, carer_a
):
    record(dose_of(oak["edith"], "08:00"), carer_a)  # Fred's 08:00 is left unrecorded
    fred = dose_of(oak["fred"], "08:00")

    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:00")).missed == 0  # still open
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:01")).missed == 2
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:05")).missed == 0
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:29")).missed == 0

    assert _sent("dose_missed") == [
        ("manager_a", f"dose:{fred.pk}", "2026-11-25T08:00:00+00:00"),
        ("senior_a", f"dose:{fred.pk}", "2026-11-25T08:00:00+00:00"),
    ]
    note = Notification.objects.filter(kind="dose_missed").first()
    assert note.urgent and note.title.startswith("Missed dose: Paracetamol")
    assert note.link == reverse("medications:dose", args=[fred.pk])


def test_a_refused_dose_is_recorded_and_does_not_escalate(home_a, oak, shifts, carer_a):
    record(dose_of(oak["edith"], "08:00"), carer_a, given=False)
    record(dose_of(oak["fred"], "08:00"), carer_a)
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:01")).missed == 0


def test_asleep_will_retry_is_not_an_outcome_so_it_still_escalates(home_a, oak, shifts, carer_a):
    record(dose_of(oak["edith"], "08:00"), carer_a, given=False, final=False)
    record(dose_of(oak["fred"], "08:00"), carer_a)
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "09:01")).missed == 2


def test_a_self_administered_dose_is_not_a_gap_and_does_not_escalate(home_a, oak, shifts, carer_a):
    record(dose_of(oak["fred"], "08:00"), carer_a)
    ScheduledDose.objects.filter(pk=dose_of(oak["edith"], "08:00").pk).update(
        self_administered=True
    )
    result = dose_reminders_sweep(now=at_local(home_a, DAY, "09:01"))
    assert result.missed == 0


def test_with_no_senior_on_the_unit_the_senior_elsewhere_in_the_home_is_told(
    home_a, unit_a, unit_elm, oak, carer_a, senior_a, manager_a
):
    on_shift(carer_a, home_a, unit_a)
    on_shift(senior_a, home_a, unit_elm)
    dose_reminders_sweep(now=at_local(home_a, DAY, "09:01"))
    assert {u for u, _, _ in _sent("dose_missed")} == {"senior_a", "manager_a"}


def test_a_missed_beat_is_caught_up_by_the_next_sweep(home_a, oak, shifts):
    # The worker was down from 06:55 to 07:25: the 07:25 sweep still opens the round.
    assert dose_reminders_sweep(now=at_local(home_a, DAY, "07:25")).round_open == 2


# --- R-ALR-4/5: two workers at once ------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_send_each_notification_once(
    postgres, home_a, oak, shifts, carer_a
):
    record(dose_of(oak["edith"], "08:00"), carer_a)
    moments = [at_local(home_a, DAY, "07:00"), at_local(home_a, DAY, "09:01")]
    for now in moments:
        barrier = threading.Barrier(4)
        errors: list[Exception] = []

        def sweep(now=now, barrier=barrier, errors=errors):
            try:
                barrier.wait()
                dose_reminders_sweep(now=now)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    assert Notification.objects.filter(kind="round_open").count() == 2
    assert Notification.objects.filter(kind="dose_missed").count() == 2


# --- Time: the October clock change (Europe/London) --------------------------------------------


OCT_CHANGE = dt.date(2026, 10, 25)  # 01:00-02:00 local happens twice


def test_a_dose_at_0130_on_the_october_change_is_reminded_once(
    home_a, unit_a, senior_a, senior2_a, carer_a, manager_a
):
    ada = resident(unit_a, senior_a, full_name="Ada Night", room="3")
    regular = live_line(home_a, ada, senior_a, senior2_a, "01:30", day=OCT_CHANGE)
    timed = live_line(
        home_a,
        ada,
        senior_a,
        senior2_a,
        "01:30",
        day=OCT_CHANGE,
        time_sensitive=True,
        tolerance_minutes=15,
    )
    sync(home_a, OCT_CHANGE)
    on_shift(carer_a, home_a, unit_a)
    on_shift(senior_a, home_a, None)

    doses = ScheduledDose.objects.filter(line__in=[regular, timed], local_date=OCT_CHANGE)
    # The schedule gives 01:30 once, at its first occurrence (BST, 00:30 UTC).
    assert sorted(d.due_at.isoformat() for d in doses) == ["2026-10-25T00:30:00+00:00"] * 2

    start = dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC)
    for minute in range(6 * 60):  # 23:00 BST on the 24th to 03:00 GMT on the 25th
        with time_machine.travel(start + dt.timedelta(minutes=minute), tick=False):
            dose_reminders_sweep()

    timed_dose = doses.get(line=timed)
    reminders = Notification.objects.filter(kind="time_sensitive_due")
    assert sorted(reminders.values_list("recipient__username", "subject")) == [
        ("carer_a", f"dose:{timed_dose.pk}"),
        ("senior_a", f"dose:{timed_dose.pk}"),
    ]
    # Reminded at 01:15 BST (the first 01:15), not at 01:15 GMT an hour later.
    assert {n.created_at for n in reminders} == {dt.datetime(2026, 10, 25, 0, 15, tzinfo=dt.UTC)}
    # The regular line's window opened once, at 00:30 BST.
    [(window, title)] = Notification.objects.filter(
        kind="round_open", recipient=carer_a
    ).values_list("window", "title")
    assert window == "2026-10-24T23:30:00+00:00"
    assert title.endswith("in Oak: 1 dose for 1 resident")
    # Neither was recorded: each escalates once to the senior and the manager.
    assert Notification.objects.filter(kind="dose_missed").count() == 4
    assert Notification.objects.filter(kind="dose_missed", recipient=carer_a).count() == 0
