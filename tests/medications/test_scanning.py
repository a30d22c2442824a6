"""Pack barcodes (R-SCAN-1, H-14): GS1 parsing, linking a GTIN once at booking in, the check
at the round, and a home that requires scanning.

"Today" is Wednesday 25 Nov 2026 (tests/mar/conftest.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from emar.models import AuditEvent, Scanning
from emar.services import DomainError
from medications import services
from medications.models import Administration, DoseScan, ProductBarcode, StockMovement
from medications.services import ScanError
from tests.mar import conftest as mar
from tests.mar.conftest import dose_at, key
from tests.medications.factories import medicine

AML5 = "5012345000015"  # a GTIN-13 (EAN-13) with a good check digit
AML10 = "5012345000022"
UNKNOWN = "5012345000039"
GS = "\x1d"

# The MAR's fixtures: a resident at home A, live lines, qualified staff, a frozen clock.
clock, make_line, qualified, resident_a = mar.clock, mar.make_line, mar.qualified, mar.resident_a


def datamatrix(gtin13: str, *, expiry: str = "281231", batch: str = "B123", serial: str = "S9"):
    """A DataMatrix's element string as a keyboard-wedge scanner types it (FNC1 as GS)."""
    return f"]d201{'0' + gtin13}17{expiry}10{batch}{GS}21{serial}"


# --- Parsing ------------------------------------------------------------------------------------


def test_a_gs1_datamatrix_string_gives_gtin_batch_expiry_and_serial():
    scan = services.scan_parse(code=datamatrix(AML5))
    assert scan.gtin == "0" + AML5
    assert scan.batch == "B123"
    assert scan.expiry == dt.date(2028, 12, 31)
    assert scan.serial == "S9"


def test_the_printed_form_with_parentheses_is_read_too():
    scan = services.scan_parse(code=f"(01)0{AML5}(17)281231(10)B123(21)S9")
    assert (scan.gtin, scan.batch, scan.expiry, scan.serial) == (
        "0" + AML5,
        "B123",
        dt.date(2028, 12, 31),
        "S9",
    )


def test_a_plain_ean13_gives_the_gtin_only():
    scan = services.scan_parse(code=AML5 + "\n")
    assert scan.gtin == "0" + AML5
    assert (scan.batch, scan.expiry, scan.serial) == ("", None, "")


@pytest.mark.parametrize("code", ["hello", "Paracetamol", "12345", "(99)x", "]d2" + "10ABC"])
def test_text_that_is_not_a_pack_barcode_is_refused(code):
    with pytest.raises(ScanError) as e:
        services.scan_parse(code=code)
    assert e.value.code == "scan_not_a_barcode"


@pytest.mark.parametrize(
    "code", ["5012345000016", f"010{AML5[:-1]}9172812311012", f"(01)0{AML5[:-1]}9(17)281231"]
)
def test_a_wrong_check_digit_is_refused(code):
    with pytest.raises(ScanError) as e:
        services.scan_parse(code=code)
    assert e.value.code == "scan_check_digit"


def test_an_empty_or_huge_scan_is_refused():
    with pytest.raises(ScanError) as e:
        services.scan_parse(code="  ")
    assert e.value.code == "scan_empty"
    with pytest.raises(ScanError) as e:
        services.scan_parse(code="01" + "9" * 500)
    assert e.value.code == "scan_too_long"


def test_a_past_expiry_is_flagged():
    scan = services.scan_parse(code=datamatrix(AML5, expiry="261031"))
    assert scan.expired(dt.date(2026, 11, 25))
    assert not scan.expired(dt.date(2026, 10, 31))


# --- Linking at booking in ------------------------------------------------------------------------


@pytest.fixture
def aml5(make_line):
    return make_line("Amlodipine 5mg tablets", schedule=None)


def test_booking_in_links_an_unknown_gtin_once_with_who_and_when(clock, aml5, senior_a, senior2_a):
    now = clock("09:00")
    movement = services.stock_receive_scanned(
        line=aml5,
        by=senior_a,
        code=datamatrix(AML5),
        quantity=Decimal(28),
        pharmacy="Boots",
        idempotency_key=key(),
    )
    assert (movement.batch, movement.expiry) == ("B123", dt.date(2028, 12, 31))
    link = ProductBarcode.objects.get()
    assert (link.gtin, link.medicine, link.linked_by, link.linked_at) == (
        "0" + AML5,
        aml5.medicine,
        senior_a,
        now,
    )
    assert AuditEvent.objects.filter(action="stock.barcode_link").count() == 1
    # The same product booked in again: the link stays the first one.
    services.stock_receive_scanned(
        line=aml5, by=senior2_a, code=AML5, quantity=Decimal(28), pharmacy="Boots"
    )
    assert ProductBarcode.objects.get().linked_by == senior_a


def test_a_gtin_of_another_product_blocks_the_receipt_and_writes_nothing(
    clock, aml5, make_line, senior_a
):
    ProductBarcode.objects.create(
        gtin="0" + AML10, medicine=medicine("Amlodipine 10mg tablets"), linked_by=senior_a
    )
    with pytest.raises(ScanError) as e:
        services.stock_receive_scanned(
            line=aml5, by=senior_a, code=AML10, quantity=Decimal(28), pharmacy="Boots"
        )
    assert e.value.code == "scan_wrong_product"
    assert "This is Amlodipine 10mg tablets; the line is Amlodipine 5mg tablets" in e.value.message
    assert not StockMovement.objects.exists()


def test_an_expired_pack_is_not_booked_in_nor_linked(clock, aml5, senior_a):
    with pytest.raises(DomainError) as e:
        services.stock_receive_scanned(
            line=aml5,
            by=senior_a,
            code=datamatrix(AML5, expiry="261031"),
            quantity=Decimal(28),
            pharmacy="Boots",
        )
    assert e.value.code == "expired"
    assert not ProductBarcode.objects.exists() and not StockMovement.objects.exists()


def test_a_carer_cannot_link_a_barcode(clock, aml5, carer_a):
    with pytest.raises(ScanError) as e:
        services.scan_for_receipt(product=aml5.medicine, code=AML5, by=carer_a, home=aml5.home)
    assert e.value.code == "not_allowed"


def test_a_wrong_link_is_retired_by_a_new_entry(clock, aml5, senior_a, senior2_a):
    first = ProductBarcode.objects.create(
        gtin="0" + AML5, medicine=medicine("Amlodipine 10mg tablets"), linked_by=senior_a
    )
    new = services.barcode_relink(
        gtin=AML5, product=aml5.medicine, by=senior2_a, home=aml5.home, reason="Linked wrongly"
    )
    assert new.replaces == first and services.barcode_current(gtin="0" + AML5) == new
    first.refresh_from_db()
    assert first.medicine.name == "Amlodipine 10mg tablets"  # the old entry is kept as it was


# --- At the round -------------------------------------------------------------------------------


def give(dose, by, **kw):
    return services.administration_record(
        dose=dose, by=by, outcome="given", idempotency_key=key(), **kw
    )


@pytest.fixture
def aml5_dose(clock, qualified, make_line, senior_a):
    line = make_line("Amlodipine 5mg tablets", schedule=None)
    ProductBarcode.objects.create(gtin="0" + AML5, medicine=line.medicine, linked_by=senior_a)
    ProductBarcode.objects.create(
        gtin="0" + AML10, medicine=medicine("Amlodipine 10mg tablets"), linked_by=senior_a
    )
    dose = dose_at(line, "08:00")
    clock("08:05")
    return dose


def test_a_scan_of_another_product_blocks_given(aml5_dose, carer_a):
    with pytest.raises(ScanError) as e:
        give(aml5_dose, carer_a, scan=datamatrix(AML10))
    assert e.value.code == "scan_wrong_product"
    assert e.value.message == "This is Amlodipine 10mg tablets; the line is Amlodipine 5mg tablets."
    assert not Administration.objects.exists()


def test_a_matching_scan_is_recorded_with_the_dose(aml5_dose, carer_a):
    record = give(aml5_dose, carer_a, scan=datamatrix(AML5))
    scan = DoseScan.objects.get(administration=record)
    assert (scan.gtin, scan.batch, scan.expired) == ("0" + AML5, "B123", False)
    event = AuditEvent.objects.get(action="mar.dose.given")
    assert event.after["scan_gtin"] == "0" + AML5


def test_an_expired_pack_is_recorded_with_a_warning_flag(aml5_dose, carer_a):
    record = give(aml5_dose, carer_a, scan=datamatrix(AML5, expiry="261031"))
    assert record.scan.expired
    verdict = services.scan_verdict(
        line=aml5_dose.line, code=datamatrix(AML5, expiry="261031"), purpose="round"
    )
    assert verdict.level == "warning" and "expired on 31/10/2026" in verdict.message


def test_an_unknown_gtin_says_it_is_not_linked(aml5_dose, carer_a):
    with pytest.raises(ScanError) as e:
        give(aml5_dose, carer_a, scan=UNKNOWN)
    assert e.value.code == "scan_not_linked" and "not linked" in e.value.message
    record = give(aml5_dose, carer_a, scan=UNKNOWN, no_scan_reason="New supplier's pack")
    assert record.scan.barcode is None and record.scan.no_scan_reason == "New supplier's pack"


def test_a_bad_scan_at_the_round_is_refused(aml5_dose, carer_a):
    with pytest.raises(ScanError) as e:
        give(aml5_dose, carer_a, scan="5012345000016")
    assert e.value.code == "scan_check_digit"


def test_scanning_optional_gives_without_a_scan(aml5_dose, carer_a):
    record = give(aml5_dose, carer_a)
    assert not DoseScan.objects.filter(administration=record).exists()


def test_scanning_required_needs_a_matching_scan_or_a_reason(aml5_dose, carer_a, home_a):
    home_a.scanning = Scanning.REQUIRED
    home_a.save()
    aml5_dose.refresh_from_db()
    with pytest.raises(ScanError) as e:
        give(aml5_dose, carer_a)
    assert e.value.code == "scan_required"
    assert not Administration.objects.exists()
    with pytest.raises(ScanError) as e:
        give(aml5_dose, carer_a, no_scan_reason="x" * 301)
    assert e.value.code == "scan_reason_too_long"
    record = give(aml5_dose, carer_a, no_scan_reason="Label torn, checked by eye")
    assert record.scan.no_scan_reason == "Label torn, checked by eye" and record.scan.gtin == ""


def test_scanning_required_does_not_ask_for_a_scan_when_not_given(aml5_dose, carer_a, home_a):
    home_a.scanning = Scanning.REQUIRED
    home_a.save()
    aml5_dose.refresh_from_db()
    from tests.mar.conftest import code

    record = services.administration_record(
        dose=aml5_dose,
        by=carer_a,
        outcome="not_given",
        code=code(home_a, "R"),
        idempotency_key=key(),
    )
    assert record.outcome == "not_given"


# --- Screens -------------------------------------------------------------------------------------


def test_the_round_blocks_a_wrong_pack_with_the_message(client, aml5_dose, carer_a):
    client.force_login(carer_a)
    response = client.post(
        reverse("medications:dose_record", args=[aml5_dose.pk]),
        {
            "idempotency_key": str(key()),
            "outcome": "given",
            "scan": datamatrix(AML10),
        },
    )
    assert response.status_code == 422
    assert "This is Amlodipine 10mg tablets; the line is Amlodipine 5mg tablets." in (
        response.content.decode()
    )
    assert not Administration.objects.exists()


def test_the_scan_check_answers_at_once(client, aml5_dose, carer_a):
    client.force_login(carer_a)
    url = reverse("medications:scan_check", args=[aml5_dose.line_id])
    wrong = client.get(url, {"code": AML10}).json()
    assert wrong["level"] == "error" and "This is Amlodipine 10mg" in wrong["message"]
    right = client.get(url, {"code": datamatrix(AML5)}).json()
    assert right["level"] == "ok" and right["batch"] == "B123"
    assert client.get(url, {"code": "x" * 300}).status_code == 400


def test_booking_in_with_a_scan_fills_batch_and_expiry(client, clock, aml5, senior_a):
    clock("09:00")
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:stock_receive", args=[aml5.pk]),
        {
            "idempotency_key": str(key()),
            "scan": datamatrix(AML5),
            "quantity": "28",
            "pharmacy": "Boots",
        },
    )
    assert response.status_code == 302
    movement = StockMovement.objects.get()
    assert (movement.batch, movement.expiry) == ("B123", dt.date(2028, 12, 31))
    assert ProductBarcode.objects.get().linked_by == senior_a


def test_booking_in_a_non_gs1_scan_is_a_clear_4xx(client, clock, aml5, senior_a):
    clock("09:00")
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:stock_receive", args=[aml5.pk]),
        {"idempotency_key": str(key()), "scan": "hello", "quantity": "28", "pharmacy": "Boots"},
    )
    assert response.status_code == 422
    assert "not a medicine pack" in response.content.decode()
    assert not StockMovement.objects.exists() and not ProductBarcode.objects.exists()


def test_the_home_setting_is_saved_by_the_manager(client, home_a, manager_a):
    client.force_login(manager_a)
    response = client.post(
        reverse("home_scanning_save", args=[home_a.pk]), {"scanning": "required"}
    )
    assert response.status_code == 302
    home_a.refresh_from_db()
    assert home_a.scanning == Scanning.REQUIRED
    bad = client.post(reverse("home_scanning_save", args=[home_a.pk]), {"scanning": "maybe"})
    assert bad.status_code == 400


def _png_of(text: str, fmt) -> bytes:
    import io

    import zxingcpp
    from PIL import Image, ImageOps

    pixels = memoryview(zxingcpp.create_barcode(text, fmt).to_image(scale=5))
    image = Image.frombytes("L", (pixels.shape[1], pixels.shape[0]), bytes(pixels))
    out = io.BytesIO()
    ImageOps.expand(image, border=30, fill=255).save(out, "PNG")
    return out.getvalue()


def test_a_camera_frame_is_decoded_on_the_server(client, home_a, carer_a):
    import zxingcpp
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(carer_a)
    url = reverse("medications:scan_decode", args=[home_a.pk])
    code = f"010{AML5}17281231" + f"10B123{GS}21S9"
    frame = SimpleUploadedFile("f.png", _png_of(code, zxingcpp.BarcodeFormat.DataMatrix))
    text = client.post(url, {"frame": frame}).json()["text"]
    assert services.scan_parse(code=text).gtin == "0" + AML5
    ean = SimpleUploadedFile("e.png", _png_of(AML5, zxingcpp.BarcodeFormat.EAN13))
    assert client.post(url, {"frame": ean}).json()["text"] == AML5
    junk = SimpleUploadedFile("x.png", b"not a picture")
    assert client.post(url, {"frame": junk}).status_code == 400
    assert client.post(url, {}).status_code == 400


def test_a_senior_corrects_a_wrong_link_from_the_refused_receipt(client, clock, aml5, senior_a):
    clock("09:00")
    wrong = ProductBarcode.objects.create(
        gtin="0" + AML5, medicine=medicine("Amlodipine 10mg tablets"), linked_by=senior_a
    )
    client.force_login(senior_a)
    refused = client.post(
        reverse("medications:stock_receive", args=[aml5.pk]),
        {"idempotency_key": str(key()), "scan": AML5, "quantity": "28", "pharmacy": "Boots"},
    )
    assert refused.status_code == 422
    assert "Correct the barcode link" in refused.content.decode()
    url = reverse("medications:barcode_relink", args=[aml5.pk])
    assert client.post(url, {"gtin": "0" + AML5, "reason": ""}).status_code == 400
    done = client.post(url, {"gtin": "0" + AML5, "reason": "The pack says 5mg"})
    assert done.status_code == 302
    current = services.barcode_current(gtin="0" + AML5)
    assert current.medicine == aml5.medicine and current.replaces == wrong
    assert current.linked_by == senior_a and current.reason == "The pack says 5mg"
