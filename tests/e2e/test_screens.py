"""The screens a newcomer tried (R-UX): each is opened in the browser at the tablet
(1280x800) and at a phone (390x844). On each: nothing scrolls sideways, the notification badge
is on screen where someone is signed in, and a screenshot is saved as
tests/e2e/screenshots/<page>-<width>.png (see the README there)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from audits.models import previous_month
from emar.models import Round
from residents.models import AllergyStatus
from tests.e2e.conftest import SCREENSHOTS, screenshot
from tests.medications.factories import line, times
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"tablet": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def scene(transactional_db, home_a, unit_a, carer_a, senior_a, senior2_a, manager_a, inspector_a):
    """A unit with a round, a resident whose allergy status is unknown and a live line with
    stock; built before the browser starts (see `browser`)."""
    for person in (carer_a, senior_a, senior2_a, manager_a):
        qualify(person, home_a)
    Round.objects.get_or_create(home=home_a, name="Morning", defaults={"time": dt.time(8)})
    unknown = resident(
        unit_a,
        senior_a,
        full_name="Bartholomew Featherstonehaugh-Worthington",
        room="A12",
    )
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="2")
    now = dt.datetime.now(home_a.tz)
    slot = f"{now:%H}:{now.minute // 5 * 5:02d}"
    for person in (unknown, edith):
        line(person, senior_a, checker=senior2_a, schedule=times(slot))
    # The status became unknown after the line went live (a new admission's GP letter says
    # nothing of allergies): the round shows the banner.
    type(unknown).objects.filter(pk=unknown.pk).update(allergy_status=AllergyStatus.UNKNOWN)
    return {"unknown": unknown, "edith": edith, "unit": unit_a, "home": home_a}


def _sign_in_as(context, live_server, user) -> None:
    """A signed-in session cookie (the sign-in page has its own browser test)."""
    client = Client()
    client.force_login(user)
    context.clear_cookies()
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def _check(page, name: str, width: int, *, signed_in: bool = True) -> None:
    page.wait_for_load_state("load")
    if signed_in:
        expect(page.locator(".nav-notifications")).to_be_visible()
        expect(page.locator(".nav-notifications")).to_be_in_viewport()
    sideways = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky bar at the top of the full-page shot
    screenshot(page, f"{name}-{width}")
    assert sideways <= 0, f"{name} at {width} px scrolls {sideways} px sideways"


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_screens_fit_and_show_the_badge(
    live_server, browser, scene, size, carer_a, senior_a, manager_a
):
    viewport = SIZES[size]
    width = viewport["width"]
    context = browser.new_context(viewport=viewport, device_scale_factor=1, has_touch=True)
    page = context.new_page()
    base = live_server.url
    home, unit = scene["home"], scene["unit"]
    try:
        # The round with a resident whose allergy status is unknown (R-MAR-16).
        _sign_in_as(context, live_server, senior_a)
        page.goto(f"{base}/homes/{home.pk}/round/?unit={unit.pk}&round=all")
        card = page.locator(".resident-card", has_text="Featherstonehaugh")
        banner = card.locator(".allergy-unknown")
        expect(banner).to_be_visible()
        banner.scroll_into_view_if_needed()
        expect(banner).to_be_in_viewport(ratio=1)  # whole: not cut off at the side
        _check(page, "round", width)
        page.locator(".dose-row").first.screenshot(path=str(SCREENSHOTS / f"round-row-{width}.png"))
        # Compact rows (a round of eight needs little scrolling), touch targets still 44 px.
        rows = page.locator(".dose-row")
        expect(rows).to_have_count(2)
        for i in range(2):
            height = rows.nth(i).bounding_box()["height"]
            assert height <= (100 if size == "tablet" else 200), f"a dose row is {height} px"
        targets = page.locator(".dose-row button:visible, .dose-row summary:visible")
        assert targets.count() >= 4
        for i in range(targets.count()):
            box = targets.nth(i).bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44, targets.nth(i).inner_text()

        # Add a medicine.
        page.goto(f"{base}/residents/{scene['edith'].pk}/lines/new/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        _check(page, "line-new", width)

        # Stock: the overview and one line's ledger.
        page.goto(f"{base}/homes/{home.pk}/stock/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        _check(page, "stock", width)

        # New incident.
        page.goto(f"{base}/homes/{home.pk}/incidents/new/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        _check(page, "incident-new", width)

        # The manager: home page, audits through "Prepare / open", audit trail, access log.
        _sign_in_as(context, live_server, manager_a)
        page.goto(f"{base}/")
        expect(page.get_by_role("heading", name="Units")).to_be_visible()
        _check(page, "home", width)
        # The units and rounds are links to those rounds.
        rounds = page.locator("section[aria-labelledby=rounds-h]")
        rounds.get_by_role("link", name="Morning 08:00").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Morning round")
        page.goto(f"{base}/")
        page.locator("section[aria-labelledby=units-h]").get_by_role(
            "link", name="Oak", exact=True
        ).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Oak")
        expect(page).to_have_url(re.compile(rf"/round/\?unit={unit.pk}$"))

        page.goto(f"{base}/homes/{home.pk}/audits/")
        month = previous_month(home.local_today())
        page.get_by_label("Month").select_option(month.strftime("%Y-%m"))
        page.get_by_role("button", name="Prepare / open").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(month.strftime("%B %Y"))
        _check(page, "audit", width)

        page.goto(f"{base}/homes/{home.pk}/audit-trail/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        _check(page, "audit-trail", width)

        page.goto(f"{base}/homes/{home.pk}/reports/access-log/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        _check(page, "access-log", width)

        # Error pages, with the navigation around them.
        page.goto(f"{base}/no-such-page/")
        expect(page.get_by_text("Error 404")).to_be_visible()
        _check(page, "error-404", width)

        _sign_in_as(context, live_server, carer_a)
        page.goto(f"{base}/homes/{home.pk}/audit-trail/")
        expect(page.get_by_text("Error 403")).to_be_visible()
        _check(page, "error-403", width)
    finally:
        context.close()
