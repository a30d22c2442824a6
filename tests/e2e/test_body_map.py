"""Browser walk (R-MAR-17): apply a cream on the body map. The round shows the cream's map with
the prescribed sites ticked; the carer taps the drawing to untick a site not applied, and
records it given — by the labels a carer sees on a 10" tablet."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from medications.models import AppliedSite
from medications.services import SiteInput
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line, times
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _now_slot(home) -> str:
    now = timezone.now().astimezone(home.tz)
    return f"{now:%H}:{now.minute // 5 * 5:02d}"


def test_apply_a_cream_on_the_body_map(
    live_server, tablet, home_a, unit_a, carer_a, senior_a, senior2_a
):
    qualify(carer_a, home_a)
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    line(
        edith,
        senior_a,
        checker=senior2_a,
        name="Clotrimazole 1% cream",
        dose_unit="application",
        route="topical",
        schedule=times(_now_slot(home_a)),
        sites=[
            SiteInput("left_forearm_front", "Thin layer on the rash"),
            SiteInput("right_forearm_front", "Thin layer on the rash"),
        ],
    )

    page = tablet
    base = live_server.url
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("carer_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all")

    row = page.locator(".dose-row", has_text="Clotrimazole 1% cream")
    expect(
        row.get_by_role("img", name="Body map: where to apply Clotrimazole 1% cream")
    ).to_be_visible()
    left = row.get_by_label("Left forearm (front)")
    right = row.get_by_label("Right forearm (front)")
    expect(left).to_be_checked()
    expect(right).to_be_checked()
    expect(row.get_by_text("Thin layer on the rash", exact=True).first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Every site of the drawing is a finger-sized target (44 px) on the tablet.
    sizes = row.locator(".bm-region rect").evaluate_all(
        "rs => rs.map(r => r.getBoundingClientRect()).map(b => Math.min(b.width, b.height))"
    )
    assert min(sizes) >= 43.5, sizes
    screenshot(page, "body-map-1-prescribed")

    # The right forearm was not done: a tap on the drawing unticks it.
    row.locator(".bm-region[data-site='right_forearm_front']").click()
    expect(right).not_to_be_checked()
    expect(row.locator(".bm-region.bm-chosen")).to_have_count(1)
    screenshot(page, "body-map-2-tapped")
    row.get_by_role("button", name="Given").click()
    page.locator(".dose-row", has_text="Clotrimazole 1% cream").locator(
        ".dose-status", has_text="Given"
    ).wait_for()
    screenshot(page, "body-map-3-given")
    assert list(AppliedSite.objects.values_list("site", flat=True)) == ["left_forearm_front"]
