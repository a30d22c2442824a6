"""Browser journeys through the rules at the edges of recording, by visible labels: an early
"Not given" is refused (R-MAR-14), a PRN override needs a second senior (R-MAR-8, H-12), and a
correction voids a record (R-MAR-4, H-17)."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from medications import services
from medications.models import ScheduledDose
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.mar.conftest import prn_protocol
from tests.medications.factories import line, times
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _slot(home, delta: dt.timedelta) -> dt.datetime:
    at = (timezone.now() + delta).astimezone(home.tz)
    return at.replace(minute=at.minute // 5 * 5, second=0, microsecond=0)


def _sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture
def people(home_a, carer_a, senior_a, senior2_a):
    for person in (carer_a, senior_a, senior2_a):
        qualify(person, home_a)


def test_an_early_not_given_is_refused(
    live_server, tablet, people, home_a, unit_a, senior_a, senior2_a
):
    later = _slot(home_a, dt.timedelta(hours=3))  # the window opens in about 2 hours
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    line(
        edith,
        senior_a,
        checker=senior2_a,
        schedule=times(f"{later:%H:%M}"),
        start_date=later.date() - dt.timedelta(days=7),
    )
    _sign_in(tablet, live_server, "carer_a")
    tablet.goto(
        f"{live_server.url}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all"
        f"&date={later.date().isoformat()}"
    )
    row = tablet.locator(".dose-row")
    row.get_by_text("Not given…").click()
    row.get_by_label("Reason code").select_option(label="R — Refused")
    row.get_by_role("button", name="Not given").click()
    expect(tablet.get_by_text("This dose is not due yet")).to_be_visible()
    expect(tablet.locator(".dose-row .dose-status")).to_have_text("Upcoming")
    screenshot(tablet, "rules-1-early-not-given")


def test_a_prn_override_needs_a_second_senior(
    live_server, tablet, people, home_a, unit_a, carer_a, senior_a, senior2_a
):
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    prn = line(edith, senior_a, checker=senior2_a, prn=True, prn_min_interval_minutes=240)
    prn_protocol(prn, senior_a, interval=240, max_24h=4)
    services.administration_record(
        line=prn,
        by=carer_a,
        outcome="given",
        quantity=Decimal(1),
        prn_reason="Knee pain",
        administered_at=timezone.now() - dt.timedelta(minutes=30),
        idempotency_key=uuid.uuid4(),
    )
    _sign_in(tablet, live_server, "carer_a")
    tablet.goto(f"{live_server.url}/lines/{prn.pk}/prn/")
    expect(tablet.get_by_text("Limit reached: override with clinical advice")).to_be_visible()
    tablet.get_by_label("Why is it needed now?").fill("Still in pain after a fall")
    tablet.get_by_label("Override: who advised").select_option(label="NHS 111")
    tablet.get_by_label("Override: adviser's name").fill("Nurse Patel, NHS 111")
    now = timezone.now().astimezone(home_a.tz)
    tablet.get_by_label("Override: time of the advice").fill(f"{now:%H:%M}")
    tablet.get_by_label("Override: what the adviser said").fill("Give a second dose now")
    tablet.get_by_role("button", name="Record PRN dose given").click()
    expect(tablet.get_by_text("needs a second senior or nurse")).to_be_visible()
    tablet.get_by_label("Second senior or nurse: username").fill("senior_a")
    tablet.get_by_label("Second senior or nurse: password or PIN").fill(TEST_PASSWORD)
    tablet.get_by_role("button", name="Record PRN dose given").click()
    expect(tablet.get_by_text("PRN recorded")).to_be_visible()
    screenshot(tablet, "rules-2-prn-override")
    assert prn.administrations.filter(prn_override_by=senior_a).count() == 1


def test_a_correction_voids_a_record(
    live_server, tablet, people, home_a, unit_a, carer_a, senior_a, senior2_a
):
    now = _slot(home_a, dt.timedelta(0))
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    regular = line(
        edith,
        senior_a,
        checker=senior2_a,
        schedule=times(f"{now:%H:%M}"),
        start_date=now.date() - dt.timedelta(days=7),
    )
    services.doses_sync(home=home_a, start=now.date(), end=now.date())
    dose = ScheduledDose.objects.get(line=regular, local_date=now.date())
    record = services.administration_record(
        dose=dose, by=carer_a, outcome="given", idempotency_key=uuid.uuid4()
    )
    _sign_in(tablet, live_server, "carer_a")
    tablet.goto(f"{live_server.url}/administrations/{record.pk}/correct/")
    tablet.get_by_label("Recorded in error (void this record)").check()
    tablet.get_by_label("What was wrong with the record").fill("Tapped the wrong resident")
    tablet.get_by_role("button", name="Add correction").click()
    expect(tablet.get_by_text("Record voided")).to_be_visible()
    tablet.goto(
        f"{live_server.url}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all"
        f"&date={now.date().isoformat()}"
    )
    expect(tablet.locator(".dose-row .dose-status")).to_have_text("Due now")
    expect(tablet.locator(".dose-row").get_by_role("button", name="Given")).to_be_visible()
    screenshot(tablet, "rules-3-void")
