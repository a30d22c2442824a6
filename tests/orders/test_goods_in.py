"""Goods in against the order (R-ORD-2): a whole delivery on one screen, item by item; CDs on
the register with a witness in the same transaction; discrepancies recorded and followed up by
new entries; more than ordered and an expiry in the past refused with nothing written."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from emar.models import AuditEvent
from medications import services
from medications.models import (
    Delivery,
    DeliveryDiscrepancy,
    DeliveryItem,
    DiscrepancyFollowUp,
    ProductBarcode,
    Stock,
    StockMovement,
)
from medications.services import DeliveredLine, OrderError, ProblemInput
from medications.services.scanning import ScanError
from tests.mar.conftest import DAY

from .conftest import NEXT_CYCLE


@pytest.fixture
def approved(clock, qualified, home_a, resident_a, make_line, senior_a, cycle):
    """An approved order: paracetamol 56 and oxycodone (a register CD) 56."""
    make_line("Paracetamol 500mg tablets")
    make_line("Oxycodone 10mg capsules", dose_unit="capsule")
    clock("10:00")
    order, _ = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    for item in order.items.all():
        services.order_item_change(item=item, by=senior_a, quantity=Decimal(56), reason="Cycle")
    services.order_approve(order=order, by=senior_a)
    order.refresh_from_db()
    items = {i.medicine.name: i for i in order.items.select_related("medicine", "line")}
    return order, items["Paracetamol 500mg tablets"], items["Oxycodone 10mg capsules"]


EXPIRY = DAY + dt.timedelta(days=400)


def test_a_delivery_books_each_item_and_the_cd_with_its_witness(approved, senior_a, senior2_a):
    order, paracetamol, oxycodone = approved
    delivery = services.delivery_book(
        order=order,
        by=senior_a,
        witness=senior2_a,
        lines=[
            DeliveredLine(paracetamol, Decimal(56), "B123", EXPIRY),
            DeliveredLine(oxycodone, Decimal(28), "CD9", EXPIRY),
        ],
        problems=[ProblemInput("short", "28 of 56 capsules came", oxycodone)],
    )
    assert Stock.objects.get(line=paracetamol.line).balance == 56
    cd = StockMovement.objects.get(line=oxycodone.line)
    assert (cd.kind, cd.change, cd.witness, cd.batch) == ("received", 28, senior2_a, "CD9")
    assert cd.pharmacy == "Boots, High Street"
    assert DeliveryItem.objects.filter(delivery=delivery).count() == 2
    # the register page shows the receipt with its witness
    page = services.cd_register_entries(
        resident=oxycodone.resident, medicine=oxycodone.line.medicine
    )
    assert page[-1].movement.witness == senior2_a
    # outstanding: oxycodone 28 still to come; the chase list says so
    rows = services.order_outstanding(home=order.home)
    assert [(r.item.pk, r.outstanding) for r in rows] == [(oxycodone.pk, Decimal(28))]
    assert DeliveryDiscrepancy.objects.get().kind == "short"


def test_a_cd_without_a_witness_writes_nothing(approved, senior_a):
    order, paracetamol, oxycodone = approved
    with pytest.raises(Exception) as e:
        services.delivery_book(
            order=order,
            by=senior_a,
            lines=[
                DeliveredLine(paracetamol, Decimal(56)),
                DeliveredLine(oxycodone, Decimal(56)),
            ],
        )
    assert e.value.code == "witness_required"
    assert not Delivery.objects.exists() and not StockMovement.objects.exists()


@pytest.mark.parametrize(
    ("quantity", "expiry", "code"),
    [
        (Decimal(57), EXPIRY, "more_than_ordered"),
        (Decimal(10), DAY - dt.timedelta(days=1), "expired"),
        (Decimal(-1), EXPIRY, "quantity_not_positive"),
    ],
)
def test_bad_goods_in_is_refused_with_nothing_written(approved, senior_a, quantity, expiry, code):
    order, paracetamol, _ = approved
    events = AuditEvent.objects.count()
    with pytest.raises(OrderError) as e:
        services.delivery_book(
            order=order,
            by=senior_a,
            lines=[DeliveredLine(paracetamol, quantity, "B1", expiry)],
            problems=[ProblemInput("damaged", "Box crushed")],
        )
    assert e.value.code == code
    assert not Delivery.objects.exists() and not DeliveryDiscrepancy.objects.exists()
    assert not StockMovement.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_second_delivery_cannot_take_it_over_what_was_ordered(approved, senior_a):
    order, paracetamol, _ = approved
    services.delivery_book(order=order, by=senior_a, lines=[DeliveredLine(paracetamol, 50)])
    with pytest.raises(OrderError) as e:
        services.delivery_book(order=order, by=senior_a, lines=[DeliveredLine(paracetamol, 7)])
    assert e.value.code == "more_than_ordered"
    assert "6" in e.value.message


def test_a_draft_order_cannot_be_booked_in(home_a, cycle, clock, senior_a, make_line):
    make_line()
    clock("10:00")
    order, _ = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    with pytest.raises(OrderError) as e:
        services.delivery_book(
            order=order, by=senior_a, lines=[DeliveredLine(order.items.first(), Decimal(1))]
        )
    assert e.value.code == "not_approved"


def test_the_same_delivery_sent_twice_books_once(approved, senior_a):
    order, paracetamol, _ = approved
    key = uuid.uuid4()
    for _ in range(2):
        services.delivery_book(
            order=order,
            by=senior_a,
            lines=[DeliveredLine(paracetamol, Decimal(56))],
            idempotency_key=key,
        )
    assert Delivery.objects.count() == 1
    assert Stock.objects.get(line=paracetamol.line).balance == 56


def test_a_discrepancy_is_followed_up_by_new_entries(approved, senior_a, manager_a):
    order, _, oxycodone = approved
    delivery = services.delivery_book(
        order=order,
        by=senior_a,
        lines=[],
        problems=[ProblemInput("missing", "No oxycodone in the delivery", oxycodone)],
    )
    d = delivery.discrepancies.get()
    services.discrepancy_follow_up(discrepancy=d, by=senior_a, resolution="Rang Boots")
    services.discrepancy_follow_up(
        discrepancy=d, by=manager_a, resolution="Delivered next day", resolved=True
    )
    assert list(DiscrepancyFollowUp.objects.values_list("resolved", flat=True)) == [False, True]
    d.refresh_from_db()
    assert d.description == "No oxycodone in the delivery"
    assert not services.delivery_discrepancies_open(order.home).exists()
    with pytest.raises(OrderError) as e:
        services.discrepancy_follow_up(discrepancy=d, by=senior_a, resolution="Again")
    assert e.value.code == "already_resolved"


# --- the screens -------------------------------------------------------------------------------


def _goods_in_data(paracetamol, **extra) -> dict:
    return {
        "idempotency_key": str(uuid.uuid4()),
        f"q_{paracetamol.pk}": "56",
        f"batch_{paracetamol.pk}": "B77",
        f"expiry_{paracetamol.pk}": EXPIRY.isoformat(),
        **extra,
    }


def test_goods_in_screen_books_the_delivery(client, approved, senior_a):
    order, paracetamol, oxycodone = approved
    client.force_login(senior_a)
    url = reverse("medications:goods_in", args=[order.pk])
    page = client.get(url).content.decode()
    assert "Quantity received: Paracetamol 500mg tablets for Edith Clarke" in page
    assert "goods_in_scan_slot" not in page  # the slot is a template include, empty for now
    data = _goods_in_data(
        paracetamol,
        **{f"problem_{oxycodone.pk}": "missing", f"problem_note_{oxycodone.pk}": "Not sent"},
    )
    response = client.post(url, data)
    assert response.status_code == 302
    assert Stock.objects.get(line=paracetamol.line).balance == 56
    assert DeliveryDiscrepancy.objects.get().kind == "missing"


def test_goods_in_screen_refuses_more_than_ordered_with_a_message(client, approved, senior_a):
    order, paracetamol, _ = approved
    client.force_login(senior_a)
    url = reverse("medications:goods_in", args=[order.pk])
    response = client.post(url, _goods_in_data(paracetamol, **{f"q_{paracetamol.pk}": "60"}))
    assert response.status_code == 400
    assert "more than the 56 still outstanding" in response.content.decode()
    assert not StockMovement.objects.exists()


def test_goods_in_screen_refuses_a_past_expiry(client, approved, senior_a):
    order, paracetamol, _ = approved
    client.force_login(senior_a)
    url = reverse("medications:goods_in", args=[order.pk])
    past = (DAY - dt.timedelta(days=2)).isoformat()
    response = client.post(url, _goods_in_data(paracetamol, **{f"expiry_{paracetamol.pk}": past}))
    assert response.status_code == 400
    assert "in the past" in response.content.decode()


@pytest.mark.parametrize("bad", ["-1", "1000000000"])
def test_an_order_quantity_of_minus_one_or_a_billion_is_a_clear_400(
    client, home_a, cycle, clock, senior_a, make_line, bad
):
    make_line()
    clock("10:00")
    order, _ = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    item = order.items.get()
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:order_item_change", args=[item.pk]),
        {"quantity": bad, "reason": "Count"},
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "more than zero" in text or "cannot be more than 10000" in text
    item.refresh_from_db()
    assert item.quantity == item.proposed


def test_approving_an_empty_order_is_a_clear_400(client, home_a, cycle, clock, senior_a):
    clock("10:00")
    order, _ = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    client.force_login(senior_a)
    response = client.post(reverse("medications:order_approve", args=[order.pk]), {"confirm": "on"})
    assert response.status_code == 400
    assert "no items" in response.content.decode()


def test_the_order_pdf_reads_as_an_order(client, approved, carer_a):
    from io import BytesIO

    from pypdf import PdfReader

    order, _, _ = approved
    client.force_login(carer_a)
    response = client.get(reverse("medications:order_pdf", args=[order.pk]))
    assert response["Content-Type"] == "application/pdf"
    pages = PdfReader(BytesIO(response.content)).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())
    for expected in (
        order.number,
        "Oak House" if "Oak" in order.home.name else order.home.name,
        "Edith Clarke",
        "Oxycodone 10mg capsules",
        "10mg",
        "56",
        "Boots, High Street",
        "2 Dec 2026",
        "29 Dec 2026",
        "Approved by",
    ):
        assert expected in text, expected


def test_outsider_gets_404_and_anonymous_is_sent_to_login(client, approved, carer_b):
    order, _, _ = approved
    url = reverse("medications:order", args=[order.pk])
    assert client.get(url).status_code == 302
    client.force_login(carer_b)
    assert client.get(url).status_code == 404
    assert client.get(reverse("medications:goods_in", args=[order.pk])).status_code == 404


# --- Scanning at goods in (R-SCAN-1, H-14) ---------------------------------------------------

PARACETAMOL_GTIN = "5012345000022"  # a GTIN-13 with a good check digit
OTHER_GTIN = "5012345000039"


def pack(gtin13: str, *, expiry: str = "291231", batch: str = "P77") -> str:
    """A GS1 DataMatrix element string as a keyboard-wedge scanner types it (GS separators)."""
    return f"010{gtin13}17{expiry}10{batch}\x1d21S1"


def test_a_scan_at_goods_in_fills_batch_and_expiry_and_links_the_barcode(approved, senior_a):
    order, paracetamol, _ = approved
    services.delivery_book(
        order=order,
        by=senior_a,
        lines=[DeliveredLine(paracetamol, Decimal(56), scan=pack(PARACETAMOL_GTIN))],
    )
    item = DeliveryItem.objects.get()
    assert (item.batch, item.expiry) == ("P77", dt.date(2029, 12, 31))
    link = ProductBarcode.objects.get(gtin="0" + PARACETAMOL_GTIN)
    assert (link.medicine, link.linked_by) == (paracetamol.line.medicine, senior_a)


def test_another_products_pack_at_goods_in_refuses_the_delivery_and_writes_nothing(
    approved, senior_a
):
    order, paracetamol, oxycodone = approved
    services.delivery_book(
        order=order,
        by=senior_a,
        lines=[DeliveredLine(paracetamol, Decimal(1), scan=pack(OTHER_GTIN))],
    )
    before = (Delivery.objects.count(), StockMovement.objects.count())
    with pytest.raises(ScanError) as e:
        services.delivery_book(
            order=order,
            by=senior_a,
            lines=[DeliveredLine(oxycodone, Decimal(1), scan=pack(OTHER_GTIN))],
            idempotency_key=uuid.uuid4(),
        )
    assert e.value.code == "scan_wrong_product"
    assert "Paracetamol" in str(e.value)
    assert (Delivery.objects.count(), StockMovement.objects.count()) == before


def test_a_typed_batch_that_differs_from_the_scanned_pack_is_refused(approved, senior_a):
    order, paracetamol, _ = approved
    with pytest.raises(OrderError) as e:
        services.delivery_book(
            order=order,
            by=senior_a,
            lines=[DeliveredLine(paracetamol, Decimal(2), "TYPED", scan=pack(PARACETAMOL_GTIN))],
        )
    assert e.value.code == "scan_batch_differs"
    assert not ProductBarcode.objects.exists()


def test_the_goods_in_screen_takes_a_typed_scan(client, approved, senior_a):
    order, paracetamol, _ = approved
    client.force_login(senior_a)
    url = reverse("medications:goods_in", args=[order.pk])
    page = client.get(url).content.decode()
    assert f'name="scan_{paracetamol.pk}"' in page
    response = client.post(
        url,
        {
            f"q_{paracetamol.pk}": "56",
            f"scan_{paracetamol.pk}": pack(PARACETAMOL_GTIN),
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert DeliveryItem.objects.get().batch == "P77"
