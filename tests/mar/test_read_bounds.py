"""Reads never write without bound and every period is checked (R-SEC-1, R-MAR-12, H-10): a
page, a print or an export asks for dates from 1 January 2000 to a year ahead and at most three
months at a time; viewing any period only brings the beat's window (local yesterday..tomorrow)
in line, the rest of the future is projected, never written."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse

from emar.periods import PeriodError, period_check
from medications.models import ScheduledDose
from tests.mar.conftest import at_local
from tests.mar.test_chart import NOW_DAY

TOMORROW = NOW_DAY + dt.timedelta(days=1)


@pytest.fixture
def at_noon(home_a):
    with time_machine.travel(at_local(home_a, NOW_DAY, "12:00"), tick=False):
        yield


def beyond_window() -> int:
    return ScheduledDose.objects.filter(local_date__gt=TOMORROW).count()


def test_the_chart_for_the_year_8000_is_a_400_and_writes_no_doses(
    client, inspector_a, resident_a, paracetamol, at_noon
):
    client.force_login(inspector_a)
    before = ScheduledDose.objects.count()
    for url in (
        f"/residents/{resident_a.pk}/mar/?start=8000-01-01",
        f"/residents/{resident_a.pk}/mar.pdf?start=8000-01-01",
        f"/homes/{resident_a.home_id}/units/{resident_a.unit_id}/mar.pdf?start=8000-01-01",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "Choose dates from 1 January 2000" in response.content.decode()
    assert ScheduledDose.objects.count() == before


def test_a_chart_of_next_month_shows_its_doses_without_writing_them(
    client, carer_a, resident_a, paracetamol, at_noon
):
    client.force_login(carer_a)
    start = NOW_DAY + dt.timedelta(days=20)
    response = client.get(f"/residents/{resident_a.pk}/mar/?start={start:%Y-%m-%d}&days=14")
    assert response.status_code == 200
    assert "Paracetamol 500mg tablets" in response.content.decode()
    assert beyond_window() == 0


def test_the_current_chart_still_brings_today_and_tomorrow_in_line(
    client, carer_a, resident_a, paracetamol, at_noon
):
    client.force_login(carer_a)
    assert client.get(f"/residents/{resident_a.pk}/mar/").status_code == 200
    assert ScheduledDose.objects.filter(line=paracetamol, local_date=TOMORROW).count() == 2
    assert beyond_window() == 0


def test_the_round_screen_of_a_far_day_writes_nothing_beyond_tomorrow(
    client, carer_a, home_a, unit_a, paracetamol, at_noon
):
    client.force_login(carer_a)
    day = NOW_DAY + dt.timedelta(days=300)
    url = reverse("medications:round", args=[home_a.pk]) + f"?unit={unit_a.pk}&date={day:%Y-%m-%d}"
    assert client.get(url).status_code == 200
    assert beyond_window() == 0


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (dt.date(1999, 12, 31), dt.date(2000, 1, 5), "period_range"),
        (dt.date(2026, 1, 1), dt.date(2028, 1, 1), "period_range"),
        (dt.date(8000, 1, 1), dt.date(8000, 1, 1), "period_range"),
        (dt.date(2026, 5, 1), dt.date(2026, 4, 1), "period_reversed"),
        (dt.date(2026, 1, 1), dt.date(2026, 4, 3), "period_too_long"),
    ],
)
def test_a_period_out_of_range_or_over_three_months_is_refused(start, end, code):
    with pytest.raises(PeriodError) as e:
        period_check(start=start, end=end, today=NOW_DAY)
    assert e.value.code == code
    assert period_check(start=dt.date(2026, 1, 1), end=dt.date(2026, 4, 2), today=NOW_DAY)


def test_print_mar_with_a_silly_period_stops_with_a_message(tmp_path, home_a, unit_a, at_noon):
    with pytest.raises(CommandError, match="Choose dates from 1 January 2000"):
        call_command(
            "print_mar", "--home", "Home A", "--start", "8000-01-01",
            "--out", str(tmp_path / "x.pdf"),
        )  # fmt: skip
    assert not (tmp_path / "x.pdf").exists()
    assert not ScheduledDose.objects.exists()


def test_exports_and_month_pages_refuse_silly_periods_with_a_400(
    client, manager_a, home_a, resident_a, at_noon
):
    client.force_login(manager_a)
    mar = client.get(
        reverse("reports_mar_pdf", args=[home_a.pk]),
        {"resident": resident_a.pk, "start": "1066-10-14", "days": "28"},
    )
    assert mar.status_code == 400
    assert "dates before 1 Jan 1900 are not accepted" in mar.content.decode()  # input bounds
    mar = client.get(
        reverse("reports_mar_pdf", args=[home_a.pk]),
        {"resident": resident_a.pk, "start": "1999-12-01", "days": "28"},
    )
    assert mar.status_code == 400 and "Choose dates from" in mar.content.decode()
    pack = client.post(
        reverse("evidence_pack_request", args=[home_a.pk]),
        {"start": "1999-01-01", "end": "1999-02-01"},
    )
    assert pack.status_code == 400 and "Choose dates from" in pack.content.decode()
    fridge = client.get(reverse("medications:temperatures", args=[home_a.pk]), {"month": "8000-01"})
    assert fridge.status_code == 400
    audit = client.post(reverse("audit_prepare", args=[home_a.pk]), {"month": "0001-01"})
    assert audit.status_code == 400 and "Choose dates from" in audit.content.decode()
