"""R-ORG-5 on the round: a round moved on the home settings screen moves the doses."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from emar.models import Round
from medications.models import ScheduledDose
from medications.services import ScheduleInput, doses_sync


def test_a_round_moved_on_the_settings_screen_moves_todays_future_doses(
    client, clock, home_a, make_line, manager_a, django_capture_on_commit_callbacks
):
    """R-ORG-5: doses on a named round follow its new time from now on."""
    night = Round.objects.get(home=home_a, name="Night")
    clock("09:00")
    line = make_line(schedule=ScheduleInput(slots=[(night.time, night.pk, night.name)]))
    doses_sync(home=home_a, start=home_a.local_today(), end=home_a.local_today())
    assert ScheduledDose.objects.get(line=line, cancelled_at__isnull=True).local_time == dt.time(22)
    client.force_login(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        moved = client.post(
            reverse("round_edit", args=[home_a.pk, night.pk]), {"name": "Night", "time": "21:00"}
        )
    assert moved.status_code == 302
    live = ScheduledDose.objects.filter(
        line=line, local_date=home_a.local_today(), cancelled_at__isnull=True
    )
    assert [d.local_time for d in live] == [dt.time(21)]
