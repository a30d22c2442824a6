"""Browser check of "Add a medicine": choosing a schedule type shows only that type's fields,
the start date is filled in with today, and the form is entered at the first submit."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from medications.models import PrescriptionLine
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.residents.factories import resident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABLET = {"width": 1280, "height": 800}
TYPE_FIELDS = {
    "every_n_days": ["#div_id_every_n"],
    "weekdays": ["#div_id_weekdays"],
    "monthly": ["#div_id_month_day"],
    "cyclic": ["#div_id_cycle_on", "#div_id_cycle_off"],
}
ALL_TYPE_FIELDS = [s for selectors in TYPE_FIELDS.values() for s in selectors]


def test_choosing_a_schedule_type_shows_only_its_fields(
    live_server, browser, home_a, unit_a, senior_a
):
    person = resident(unit_a, senior_a, full_name="Edna Price", room="4")
    context = browser.new_context(viewport=TABLET, device_scale_factor=1)
    page = context.new_page()
    base = live_server.url
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("senior_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    page.goto(base + reverse("medications:line_new", args=[person.pk]) + "?q=paracetamol")

    for selector in ALL_TYPE_FIELDS:  # "Every day" needs none of them
        expect(page.locator(selector)).to_be_hidden()
    expect(page.locator("#div_id_taper")).to_be_hidden()
    expect(page.get_by_label("Start date")).to_have_value(home_a.local_today().isoformat())

    for kind, shown in TYPE_FIELDS.items():
        page.get_by_label("Which days").select_option(kind)
        for selector in ALL_TYPE_FIELDS:
            if selector in shown:
                expect(page.locator(selector)).to_be_visible()
            else:
                expect(page.locator(selector)).to_be_hidden()
    page.get_by_label("Dose pattern").select_option("tapering")
    expect(page.locator("#div_id_taper")).to_be_visible()
    page.get_by_label("Dose pattern").select_option("fixed")
    expect(page.locator("#div_id_taper")).to_be_hidden()
    screenshot(page, "add-medicine-cyclic-1280")

    # Enter a daily line with the defaults as shown: the first submit is accepted.
    page.get_by_label("Which days").select_option("daily")
    page.locator("#id_medicine").select_option(label="Paracetamol 500mg tablets")
    page.get_by_label("Amount per dose").fill("1")
    page.get_by_label("Or at these times").fill("08:00, 20:00")
    page.locator("#id_prescriber").fill("Dr Shah")
    page.get_by_role("button", name="Enter line").click()
    page.wait_for_url(f"{base}/residents/{person.pk}/**")
    expect(page.get_by_text("needs a second senior's check")).to_be_visible()
    line = PrescriptionLine.objects.get(resident=person)
    assert line.start_date == home_a.local_today()
    context.close()
