"""Browser journey (R-MAR-1, R-MAR-9): a carer on a tablet records a given dose, a refusal and a
controlled drug with a witness, each swapping its row in place; screenshots are saved."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line, times
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _now_slot(home) -> str:
    now = timezone.now().astimezone(home.tz)
    return f"{now:%H}:{now.minute // 5 * 5:02d}"


def test_carer_records_doses_on_the_round(
    live_server, tablet, home_a, unit_a, carer_a, senior_a, senior2_a
):
    for person in (carer_a, senior_a, senior2_a):
        qualify(person, home_a)
    slot = _now_slot(home_a)
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    edith.medicine_preferences = "Tablets one at a time with orange juice"
    edith.save()
    arthur = resident(unit_a, senior_a, full_name="Arthur Bell", room="14")
    line(edith, senior_a, checker=senior2_a, schedule=times(slot))
    line(arthur, senior_a, checker=senior2_a, schedule=times(slot), name="Ibuprofen 200mg tablets")
    line(
        arthur,
        senior_a,
        checker=senior2_a,
        schedule=times(slot),
        name="Oxycodone 10mg capsules",
        dose_unit="capsule",
    )

    tablet.goto(f"{live_server.url}/login/")
    tablet.get_by_label("Username").fill("carer_a")
    tablet.get_by_label("Password").fill(TEST_PASSWORD)
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_url(f"{live_server.url}/")
    tablet.goto(f"{live_server.url}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all")
    expect(tablet.get_by_text("Tablets one at a time with orange juice")).to_be_visible()
    assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(tablet, "round-1-open")

    rows = tablet.locator(".dose-row")
    assert rows.count() == 3
    # 1. Edith's paracetamol: one tap.
    edith_row = tablet.locator(".resident-card", has_text="Edith Clarke").locator(".dose-row")
    edith_row.get_by_role("button", name="Given").click()
    edith_row = tablet.locator(".resident-card", has_text="Edith Clarke").locator(".dose-row")
    edith_row.locator(".dose-status", has_text="Given").wait_for()
    # 2. Arthur refuses his ibuprofen.
    arthur = tablet.locator(".resident-card", has_text="Arthur Bell")
    ibuprofen = arthur.locator(".dose-row", has_text="Ibuprofen")
    ibuprofen.locator("summary", has_text="Not given").click()
    ibuprofen.get_by_label("Reason code").select_option(label="R — Refused")
    ibuprofen.get_by_role("button", name="Not given").click()
    arthur.locator(".dose-row", has_text="Ibuprofen").locator(
        ".dose-status", has_text="Not given"
    ).wait_for()
    # 3. The oxycodone needs a witness: without one it is refused, with one it is recorded.
    oxy = arthur.locator(".dose-row", has_text="Oxycodone")
    oxy.get_by_label("Witness username").fill("senior_a")
    oxy.get_by_label("Witness password").fill("wrong-password")
    oxy.get_by_role("button", name="Given").click()
    arthur.locator(".dose-row", has_text="Oxycodone").get_by_text("Not saved").wait_for()
    screenshot(tablet, "round-2-witness-refused")
    oxy = arthur.locator(".dose-row", has_text="Oxycodone")
    oxy.get_by_label("Witness username").fill("senior_a")
    oxy.get_by_label("Witness password").fill(TEST_PASSWORD)
    oxy.get_by_role("button", name="Given").click()
    arthur.locator(".dose-row", has_text="Oxycodone").locator(
        ".dose-status", has_text="Given"
    ).wait_for()
    expect(arthur.locator(".dose-row", has_text="Oxycodone")).to_contain_text("witness Sam Ahmed")
    tablet.locator("#round-counts", has_text="2 given").wait_for()
    screenshot(tablet, "round-3-recorded")

    from medications.models import Administration

    assert Administration.objects.filter(outcome="given").count() == 2
    assert Administration.objects.filter(outcome="not_given", code__code="R").count() == 1
    assert (
        Administration.objects.get(line__medicine__name__startswith="Oxycodone").witness == senior_a
    )
