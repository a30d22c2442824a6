"""Browser journeys with pack barcodes (R-SCAN-1, H-14), typed as a keyboard-wedge scanner types
them (the barcode's text and Enter): a carer scans the wrong pack at the round and is stopped;
a senior books stock in with a scan that fills the batch and expiry and links the barcode."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from medications.models import ProductBarcode, StockMovement
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line, medicine, times
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AML5 = "05012345000015"
AML10 = "05012345000022"
GS = "\x1d"
WRONG_PACK = f"01{AML10}1730123110LOT77{GS}21X1"
RIGHT_PACK = f"01{AML5}1730123110LOT55{GS}21X2"


def _sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture
def amlodipine(home_a, unit_a, carer_a, senior_a, senior2_a):
    for person in (carer_a, senior_a, senior2_a):
        qualify(person, home_a)
    now = timezone.now().astimezone(home_a.tz)
    slot = now.replace(minute=now.minute // 5 * 5, second=0, microsecond=0)
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    aml = line(
        edith,
        senior_a,
        checker=senior2_a,
        name="Amlodipine 5mg tablets",
        schedule=times(f"{slot:%H:%M}"),
        start_date=slot.date() - dt.timedelta(days=7),
    )
    ProductBarcode.objects.create(gtin=AML5, medicine=aml.medicine, linked_by=senior_a)
    ProductBarcode.objects.create(
        gtin=AML10, medicine=medicine("Amlodipine 10mg tablets"), linked_by=senior_a
    )
    return aml, slot


def test_a_carer_scanning_the_wrong_pack_is_blocked(
    live_server, tablet, home_a, unit_a, amlodipine
):
    aml, slot = amlodipine
    _sign_in(tablet, live_server, "carer_a")
    tablet.goto(
        f"{live_server.url}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all"
        f"&date={slot.date().isoformat()}"
    )
    row = tablet.locator(".dose-row")
    row.get_by_text("Scan the pack…").click()
    scan = row.get_by_label("Scan the pack")
    scan.fill(WRONG_PACK)
    scan.press("Enter")  # the scanner's Enter checks at once, and records nothing
    message = "This is Amlodipine 10mg tablets; the line is Amlodipine 5mg tablets."
    expect(row.get_by_role("status")).to_contain_text(message)
    expect(row.locator(".dose-status")).to_have_text("Due now")
    screenshot(tablet, "scan-1-wrong-pack-checked")
    row.get_by_role("button", name="Given").click()  # the server refuses it too
    expect(tablet.locator(".dose-row").get_by_role("alert")).to_contain_text(message)
    expect(tablet.locator(".dose-row .dose-status")).to_have_text("Due now")
    screenshot(tablet, "scan-2-wrong-pack-blocked")
    assert not aml.administrations.exists()


def test_booking_in_with_a_typed_scan_fills_batch_and_expiry(
    live_server, tablet, home_a, amlodipine, senior_a
):
    aml, _slot = amlodipine
    ProductBarcode.objects.all().delete()  # a new product: this receipt links its barcode
    _sign_in(tablet, live_server, "senior_a")
    tablet.goto(f"{live_server.url}/stock/lines/{aml.pk}/")
    tablet.get_by_text("Book stock in").click()
    scan = tablet.get_by_label("Scan the pack")
    scan.fill(RIGHT_PACK)
    scan.press("Enter")
    expect(tablet.get_by_role("status").filter(has_text="New barcode")).to_contain_text(
        "it will be linked to Amlodipine 5mg tablets"
    )
    expect(tablet.get_by_label("Batch")).to_have_value("LOT55")
    expect(tablet.get_by_label("Expiry")).to_have_value("2030-12-31")
    tablet.get_by_label("Quantity").fill("28")
    tablet.get_by_label("Received from (pharmacy)").fill("Boots, High Street")
    screenshot(tablet, "scan-3-booking-in")
    tablet.get_by_role("button", name="Book in").click()
    expect(tablet.get_by_text("Stock booked in.")).to_be_visible()
    movement = StockMovement.objects.get(line=aml)
    assert (movement.batch, movement.expiry) == ("LOT55", dt.date(2030, 12, 31))
    link = ProductBarcode.objects.get(gtin=AML5)
    assert (link.medicine, link.linked_by) == (aml.medicine, senior_a)
