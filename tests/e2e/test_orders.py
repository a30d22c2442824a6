"""Browser journey (R-ORD-1, R-ORD-2): on a tablet, a senior reviews the prepared order,
changes a quantity with a reason, approves it and downloads its PDF (the bytes are a PDF that
reads as the order); then books the delivery in by the visible labels, with one item missing.
Screenshots of the screens and a page image of the PDF are saved."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect
from pypdf import PdfReader

from medications import services
from medications.models import DeliveryDiscrepancy, OrderCycle, Pharmacy, ProductBarcode, Stock
from tests.e2e.conftest import SCREENSHOTS, screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line, times
from tests.residents.factories import resident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")


def test_a_senior_approves_the_order_downloads_its_pdf_and_books_goods_in(
    live_server, tablet, home_a, unit_a, senior_a, senior2_a
):
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    line(edith, senior_a, checker=senior2_a, name="Paracetamol 500mg tablets")
    line(edith, senior_a, checker=senior2_a, name="Amlodipine 5mg tablets", schedule=times("08:00"))
    pharmacy = services.pharmacy_create(name="Boots, High Street", homes=[home_a], by=None)
    Pharmacy.objects.filter(pk=pharmacy.pk).update(email="orders@boots.test")
    today = home_a.local_today()
    cycle = OrderCycle.objects.create(
        home=home_a, start_date=today - dt.timedelta(days=20), lead_days=7, pharmacy=pharmacy
    )
    order, _ = services.order_prepare(home=home_a, cycle_start=cycle.next_start(today))

    _sign_in(tablet, live_server.url, "senior_a")
    tablet.goto(f"{live_server.url}/homes/{home_a.pk}/orders/")
    tablet.get_by_role("link", name=order.number).click()
    expect(tablet.get_by_role("heading", name=f"Order {order.number}")).to_be_visible()
    expect(tablet.get_by_text("Awaiting a senior's review")).to_be_visible()

    # change the amlodipine quantity, with a reason
    row = tablet.get_by_role("row").filter(has_text="Amlodipine 5mg tablets")
    row.get_by_text("Change quantity").click()
    row.get_by_label("New quantity").fill("28")
    row.get_by_label("Reason for the change").fill("Round to a full pack")
    row.get_by_role("button", name="Save quantity").click()
    expect(tablet.get_by_text("Quantity changed.")).to_be_visible()
    expect(tablet.get_by_text("Round to a full pack")).to_be_visible()
    screenshot(tablet, "order-review")

    tablet.get_by_label("I have checked every item and quantity on this order").check()
    tablet.get_by_role("button", name="Approve order").click()
    expect(tablet.get_by_text(f"Order {order.number} approved")).to_be_visible()
    expect(tablet.get_by_text("Approved by")).to_be_visible()
    assert [m.to for m in mail.outbox] == [["orders@boots.test"]]

    with tablet.expect_download() as download_info:
        tablet.get_by_role("link", name="Download order PDF").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages).split())
    for expected in (
        order.number,
        home_a.name,
        "Edith Clarke",
        "Amlodipine 5mg tablets",
        "Round to a full pack",
        "Boots, High Street",
        "Approved by",
    ):
        assert expected in text, expected
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "order.pdf").write_bytes(pdf)
    if shutil.which("pdftoppm"):  # the page image a pharmacist would read
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "60",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(SCREENSHOTS / "order.pdf"),
                str(SCREENSHOTS / "order-pdf"),
            ],
            check=True,
        )

    # goods in: paracetamol arrives in full, amlodipine is missing
    tablet.get_by_role("link", name="Goods in").click()
    expect(
        tablet.get_by_role("heading", name=f"Goods in against order {order.number}")
    ).to_be_visible()
    paracetamol = "Paracetamol 500mg tablets for Edith Clarke"
    quantity = order.items.get(medicine__name="Paracetamol 500mg tablets").quantity
    tablet.get_by_label(f"Quantity received: {paracetamol}").fill(f"{quantity.normalize():f}")
    # A keyboard-wedge scanner types the pack's GS1 string and Enter (R-SCAN-1): the batch and
    # expiry fill themselves, and the barcode is linked to paracetamol when the delivery is booked.
    expiry = today + dt.timedelta(days=500)
    scan = tablet.get_by_label(f"Scan the pack: {paracetamol}")
    scan.fill(f"010501234500004617{expiry:%y%m%d}10B2231\x1d21S1")
    scan.press("Enter")
    expect(tablet.get_by_label(f"Batch: {paracetamol}")).to_have_value("B2231")
    expect(tablet.get_by_label(f"Expiry: {paracetamol}")).to_have_value(expiry.isoformat())
    amlodipine = "Amlodipine 5mg tablets for Edith Clarke"
    tablet.get_by_label(f"Problem: {amlodipine}").select_option(label="Missing")
    tablet.get_by_label(f"Problem description: {amlodipine}").fill("Not in the bag")
    screenshot(tablet, "goods-in")
    tablet.get_by_role("button", name="Book the delivery in").click()
    expect(tablet.get_by_text("Delivery booked in.")).to_be_visible()
    expect(tablet.get_by_text("Missing: Not in the bag")).to_be_visible()
    screenshot(tablet, "order-after-goods-in")
    assert Stock.objects.get(line__medicine__name="Paracetamol 500mg tablets").balance == quantity
    assert DeliveryDiscrepancy.objects.get().kind == "missing"
    link = ProductBarcode.objects.get(gtin="05012345000046")
    assert link.medicine.name == "Paracetamol 500mg tablets"
