"""Browser journey (R-MAR-11): on a tablet, a carer gives a homely remedy the resident's GP
authorised; a prescribed duplicate ingredient is refused until a second senior enters their
own password and a reason. A screenshot is saved."""

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from medications import services
from medications.models import HomelyRemedy, HomelyRemedyDose, Medicine
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_homely_remedy_with_a_duplicate_needs_a_second_senior(
    live_server, tablet, home_a, unit_a, carer_a, senior_a, senior2_a
):
    for person in (carer_a, senior_a, senior2_a):
        qualify(person, home_a)
    harold = resident(unit_a, senior_a, full_name="Harold Pritchard", room="2")
    line(harold, senior_a, checker=senior2_a, prn=True)  # paracetamol, prescribed
    remedy = HomelyRemedy.objects.create(
        home=home_a,
        medicine=Medicine.objects.get(name="Paracetamol 500mg soluble tablets"),
        indication="Mild pain or fever",
        dose=Decimal(1),
        dose_max=Decimal(2),
        dose_unit="tablet",
        dose_guidance="1 to 2 tablets, at least 4 hours apart",
        min_interval_minutes=240,
    )
    today = home_a.local_today()
    services.homely_authorisation_record(
        resident=harold,
        remedy=remedy,
        by=senior_a,
        authorised_by_name="Dr A Shah",
        authorised_by_role="gp",
        authorised_on=today - dt.timedelta(days=5),
        review_date=today + dt.timedelta(days=90),
        exclusions="None",
    )

    tablet.goto(f"{live_server.url}/login/")
    tablet.get_by_label("Username").fill("carer_a")
    tablet.get_by_label("Password").fill(TEST_PASSWORD)
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_url(f"{live_server.url}/")
    tablet.goto(f"{live_server.url}/residents/{harold.pk}/homely-remedy/")
    expect(tablet.locator(".allergy-banner")).to_contain_text("No known allergies")
    expect(tablet.get_by_text("Authorised by Dr A Shah (GP)")).to_be_visible()
    tablet.get_by_label("Remedy (the home's approved list)").select_option(str(remedy.pk))
    tablet.get_by_label("Quantity").fill("1")
    tablet.get_by_label("Why is it given?").fill("Headache")
    tablet.get_by_role("button", name="Record homely remedy").click()
    expect(tablet.get_by_role("alert")).to_contain_text("second senior")
    assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(tablet, "homely-remedy-1-second-senior-needed")
    tablet.get_by_label("Why is it given?").fill("Headache")
    tablet.get_by_label("Quantity").fill("1")
    tablet.get_by_label("Second senior or nurse: username").fill("senior_a")
    tablet.get_by_label("Second senior or nurse: password or PIN").fill(TEST_PASSWORD)
    tablet.get_by_label("Senior's reason it is safe to give").fill("GP advised by phone")
    tablet.get_by_role("button", name="Record homely remedy").click()
    expect(tablet.get_by_text("Homely remedy recorded")).to_be_visible()
    assert HomelyRemedyDose.objects.get().override_by == senior_a
