"""Browser walk (R-STK-7, H-15): a carer records eye drops opened on the round, by the labels
they see on a 10" tablet, and the round warns once the pack is past its in-use expiry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from medications import services
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line, times
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_record_opened_on_the_round_then_the_round_warns_when_expired(
    live_server, tablet, home_a, unit_a, carer_a, senior_a, senior2_a
):
    qualify(carer_a, home_a)
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    drops = line(
        edith,
        senior_a,
        checker=senior2_a,
        name="Hypromellose 0.3% eye drops",
        dose_unit="drop",
        route="eye",
        schedule=times("08:00", "20:00"),
    )
    services.stock_receive(line=drops, by=senior_a, quantity=Decimal(1), pharmacy="Boots")

    page = tablet
    base = live_server.url
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("carer_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")

    page.goto(
        base + reverse("medications:round", args=[home_a.pk]) + f"?unit={unit_a.pk}&round=all"
    )
    expect(page.get_by_text("No date opened recorded").first).to_be_visible()
    page.get_by_text("Record opened").first.click()
    # Found on the trolley: the label says it was opened a month ago.
    opened = home_a.local_today() - dt.timedelta(days=30)
    page.get_by_label("Date opened").first.fill(f"{opened:%Y-%m-%d}")
    page.get_by_label("Batch (if known)").first.fill("HY123")
    page.get_by_role("button", name="Save date opened").first.click()
    expect(page.get_by_text("recorded opened").first).to_be_visible()
    warning = page.get_by_role("alert").filter(has_text="Past its in-use expiry").first
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Do not use this pack")
    screenshot(page, "opened-round-expired")

    # A new pack opened today clears the warning.
    page.get_by_text("Record a new pack opened").first.click()
    page.get_by_role("button", name="Save date opened").first.click()
    expect(page.get_by_text("Past its in-use expiry")).to_have_count(0)
    expect(page.get_by_text("use until").first).to_be_visible()
    screenshot(page, "opened-round-new-pack")
