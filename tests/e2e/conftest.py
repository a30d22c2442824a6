"""Browser tests: Playwright driving the system Chromium (installed by .ci/run with apt)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import need

# Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures are
# still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
TABLET = {"width": 800, "height": 1280}  # a 10" tablet in portrait


@pytest.fixture
def browser(transactional_db):
    """Per test, and only after the database is set up: Playwright's sync API switches the
    thread's context, so Django must restore the reference data (courses, catalogue) first."""
    need(
        Path(CHROMIUM).exists() or bool(shutil.which("chromium")),
        "needs Chromium at /usr/bin/chromium (apt-get install chromium)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def tablet(browser):
    context = browser.new_context(viewport=TABLET, device_scale_factor=1, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_out(page) -> None:
    """Sign out through the collapsed navbar (below 1400 px the menu hides behind "Menu").

    The toggle is clicked until the menu is open: a click that lands while Bootstrap is still
    starting, or during the collapse transition, is ignored by Bootstrap, and the sign-out
    button would never appear.
    """
    from playwright.sync_api import expect

    menu = page.get_by_role("button", name="Menu")
    sign_out_button = page.get_by_role("button", name="Sign out")
    if menu.is_visible():
        for _ in range(5):
            if menu.get_attribute("aria-expanded") != "true":
                menu.click()
            try:
                expect(sign_out_button).to_be_visible(timeout=3_000)
                break
            except AssertionError:
                continue
    expect(sign_out_button).to_be_visible()
    sign_out_button.click()
    try:
        page.wait_for_url("**/login/", timeout=15_000)
    except Exception:  # Playwright's TimeoutError
        # Seen rarely on a loaded CI machine: the click did not leave the page. Say where the
        # page was (a warning in the test summary) and press once more, as a person would.
        import warnings

        warnings.warn(
            f"sign-out did not navigate: url={page.url} "
            f"title={page.title()!r} button visible={sign_out_button.is_visible()}",
            stacklevel=2,
        )
        if sign_out_button.is_visible():
            sign_out_button.click()
        page.wait_for_url("**/login/")
