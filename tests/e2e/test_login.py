import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_out
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_carer_signs_in_on_a_tablet(live_server, tablet, carer_a, unit_a):
    tablet.goto(f"{live_server.url}/")
    assert "/login/" in tablet.url
    tablet.get_by_label("Username").fill("carer_a")
    tablet.get_by_label("Password").fill(TEST_PASSWORD)
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_url(f"{live_server.url}/")
    expect(tablet.get_by_role("heading", name="Home A")).to_be_visible()
    expect(tablet.locator("section[aria-labelledby=units-h]").get_by_text("Oak")).to_be_visible()
    # Tablet first: nothing scrolls sideways in portrait.
    assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert screenshot(tablet, "login-carer-dashboard").stat().st_size > 0
    sign_out(tablet)


def test_wrong_password_shows_a_message(live_server, tablet, carer_a):
    tablet.goto(f"{live_server.url}/login/")
    tablet.get_by_label("Username").fill("carer_a")
    tablet.get_by_label("Password").fill("not-the-password")
    tablet.get_by_role("button", name="Sign in").click()
    expect(tablet.get_by_text("correct username and password")).to_be_visible()


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1280, "height": 800}, {"width": 800, "height": 1280}, {"width": 390, "height": 844}],
)
def test_the_notification_badge_is_visible_without_opening_the_menu(
    live_server, browser, carer_a, unit_a, viewport
):
    context = browser.new_context(viewport=viewport, has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("carer_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="Notifications")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()  # still in the menu
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
