"""Browser walk (R-RES-6, H-16): away to hospital, back, reconcile, lines restart — by the
labels a senior sees on a 10" tablet."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from medications.models import PrescriptionLine
from residents.models import Absence, Resident
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line, times
from tests.residents.factories import resident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_away_to_hospital_back_reconcile_lines_restart(
    live_server, tablet, home_a, unit_a, senior_a, senior2_a
):
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    paracetamol = line(edith, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))
    # On the home's books since well before she went to hospital.
    earlier = timezone.now() - dt.timedelta(days=10)
    Resident.objects.filter(pk=edith.pk).update(admitted_on=earlier.date())
    PrescriptionLine.objects.filter(pk=paracetamol.pk).update(entered_at=earlier)
    left = (timezone.now() - dt.timedelta(hours=2)).astimezone(home_a.tz)

    page = tablet
    base = live_server.url
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("senior_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")

    page.goto(base + reverse("medications:resident_profile", args=[edith.pk]))
    page.get_by_role("link", name="Mark away").click()
    page.get_by_label("Where").select_option(label="In hospital")
    page.get_by_label("Left the home at").fill(f"{left:%Y-%m-%dT%H:%M}")
    page.get_by_label("Expected back on").fill(f"{left.date() + dt.timedelta(days=3):%Y-%m-%d}")
    page.get_by_role("button", name="Mark away").click()
    expect(page.get_by_text("Away: in hospital")).to_be_visible()
    screenshot(page, "away-profile")

    page.get_by_role("link", name="Record return").click()
    page.get_by_label("Hospital discharge letter").check()
    page.get_by_role("button", name="Record return").click()
    expect(page.get_by_role("heading", name="Return from hospital reconciliation")).to_be_visible()
    assert Absence.objects.get(resident=edith).reconciliation is not None

    page.goto(base + reverse("medications:resident_profile", args=[edith.pk]))
    expect(page.get_by_text("1 medicine held")).to_be_visible()
    page.get_by_role("link", name="Confirm medicines").click()
    page.get_by_label("Medicine").select_option(label=str(paracetamol))
    page.get_by_label("Restart unchanged").check()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("No medicine is held")).to_be_visible()
    screenshot(page, "away-lines-restarted")
