"""Browser journey (R-ORG-6, R-ORG-5): a manager adds a person and changes a carer's role on
the staff screen, adds a code in the home settings; the new person must choose their own
password at their first sign-in. At 1280x800 and 390x844, without sideways scrolling."""

import pytest
from playwright.sync_api import expect

from emar.models import Membership, NonAdministrationCode, Role
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"1280": {"width": 1280, "height": 800}, "390": {"width": 390, "height": 844}}


def _sign_in(page, base: str, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _no_sideways_scroll(page) -> None:
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .filter(e => !e.closest('.table-responsive') || e.matches('.table-responsive'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className)"""
    )
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), wide


def test_a_manager_runs_staff_and_settings(live_server, browser, home_a, manager_a, carer_a):
    base = live_server.url
    context = browser.new_context(viewport=SIZES["1280"], device_scale_factor=1)
    page = context.new_page()
    _sign_in(page, base, "manager_a")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/homes/{home_a.pk}/staff/")

    add = page.locator("form[action$='/staff/add/']")
    add.get_by_label("Username").fill("nia.jones")
    add.get_by_label("First name").fill("Nia")
    add.get_by_label("Last name").fill("Jones")
    add.get_by_label("Initial password").fill("Ward-round-2026!")
    add.get_by_label("Role").select_option("carer")
    add.get_by_role("button", name="Add to the staff").click()
    expect(page.get_by_text("must choose their own password first")).to_be_visible()

    row = page.locator("#staff-current tr", has_text="carer_a")
    row.get_by_label("New role for Carla Adams").select_option("senior")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_text("Carla Adams is now senior carer / nurse here.")).to_be_visible()
    page.get_by_text("Ended roles and access (1)").click()
    expect(page.locator("#staff-ended")).to_contain_text("Carer")
    assert Membership.objects.get(user=carer_a, active=True).role == Role.SENIOR
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        _no_sideways_scroll(page)
        screenshot(page, f"staff-{size}")

    page.set_viewport_size(SIZES["1280"])
    page.goto(f"{base}/homes/{home_a.pk}/settings/")
    codes = page.locator("form[action$='/codes/add/']")
    codes.get_by_label("Code").fill("T")
    codes.get_by_label("Meaning").fill("Taken out by family")
    codes.get_by_label("Category").select_option("absent")
    codes.get_by_role("button", name="Add the code").click()
    expect(page.get_by_text("Code T (Taken out by family) added.")).to_be_visible()
    assert NonAdministrationCode.objects.filter(home=home_a, code="T").exists()
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        _no_sideways_scroll(page)
        screenshot(page, f"home-settings-{size}")
    context.close()

    # The new person's first sign-in: their own password before anything else.
    context = browser.new_context(viewport=SIZES["390"], device_scale_factor=1)
    page = context.new_page()
    _sign_in(page, base, "nia.jones", "Ward-round-2026!")
    page.wait_for_url(f"{base}/password/change/")
    expect(page.get_by_text("Choose your own password before you carry on.")).to_be_visible()
    page.locator("#id_old_password").fill("Ward-round-2026!")
    page.locator("#id_new_password1").fill("My-own-pass-2026")
    page.locator("#id_new_password2").fill("My-own-pass-2026")
    page.get_by_role("button", name="Continue").click()
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/")
    context.close()
