"""Browser check (R-CD-2, H-5): a double tap on "Book in" for a controlled drug sends the form
once — the page's script drops a second submit while the first is in flight and disables the
button — and the stock is booked once."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from medications.models import Stock, StockMovement
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line
from tests.residents.factories import resident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Two taps faster than any page can answer: both land before the browser has sent anything.
# Returns how many submits went ahead and whether the button is disabled a moment later.
TWO_TAPS = """sel => new Promise(resolve => {
  const form = document.querySelector(sel);
  const button = form.querySelector("button[type=submit]");
  let sent = 0;
  form.addEventListener("submit", e => { if (!e.defaultPrevented) { sent += 1; } });
  window.addEventListener("submit", e => e.preventDefault());  // after the page's own handlers
  button.click();
  button.click();
  setTimeout(() => resolve([sent, button.disabled]), 0);
})"""


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("senior_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_a_double_tap_on_a_cd_receipt_sends_it_once_and_books_28(
    live_server, tablet, unit_a, senior_a, senior2_a
):
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    oxycodone = line(
        edith, senior_a, checker=senior2_a, name="Oxycodone 10mg capsules", dose_unit="capsule"
    )
    page = tablet
    _sign_in(page, live_server.url)
    receive_url = reverse("medications:stock_receive", args=[oxycodone.pk])
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(live_server.url + reverse("medications:stock_line", args=[oxycodone.pk]))
    page.get_by_text("Book stock in").click()
    form = page.locator(f"form[action='{receive_url}']")
    form.get_by_label("Quantity").fill("28")
    form.get_by_label("Received from (pharmacy)").fill("Boots, High Street")
    form.get_by_label("Witness username").fill("senior2_a")
    form.get_by_label("Witness password").fill(TEST_PASSWORD)

    sent, disabled = page.evaluate(TWO_TAPS, f"form[action='{receive_url}']")
    assert (sent, disabled) == (1, True)
    screenshot(page, "cd-receipt-in-flight")

    page.reload()  # a fresh form (and key), then a real double tap
    page.get_by_text("Book stock in").click()
    form.get_by_label("Quantity").fill("28")
    form.get_by_label("Received from (pharmacy)").fill("Boots, High Street")
    form.get_by_label("Witness username").fill("senior2_a")
    form.get_by_label("Witness password").fill(TEST_PASSWORD)
    form.get_by_role("button", name="Book in").dblclick()
    expect(page.get_by_text("Stock booked in.")).to_be_visible()
    expect(form.locator("button[type=submit]")).to_be_enabled()  # the next form is usable
    assert posts.count(live_server.url + receive_url) == 1
    assert StockMovement.objects.filter(line=oxycodone, kind="received").count() == 1
    assert Stock.objects.get(line=oxycodone).balance == 28
