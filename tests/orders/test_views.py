"""The ordering pages (R-ORD-1, R-ORD-2): bad input is a clear message and a 4xx with nothing
written; a senior approves and downloads the PDF; a delivery is booked in on one screen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medications.models import Delivery, DeliveryDiscrepancy, OrderItem, StockMovement
from tests.factories import TEST_PASSWORD
from tests.orders.conftest import prepare


@pytest.fixture
def order(clock, qualified, make_line, cycle, home_a):
    make_line()
    make_line("Oxycodone 10mg capsules", dose_unit="capsule")
    clock("10:00")
    return prepare(home_a)


def test_a_senior_reviews_approves_and_downloads_the_pdf(client, order, senior_a):
    client.force_login(senior_a)
    page = client.get(reverse("medications:order_detail", args=[order.pk]))
    assert page.status_code == 200
    assert b"Paracetamol 500mg tablets" in page.content and b"Approve and send" in page.content
    item = order.items.get(line__medicine__name="Paracetamol 500mg tablets")
    url = reverse("medications:order_item_set", args=[item.pk])
    for bad in ("-1", "1000000000"):
        r = client.post(url, {"quantity": bad, "reason": "x"})
        assert r.status_code in (400, 422), bad
        assert b"Not saved." in r.content
    r = client.post(url, {"quantity": "60", "reason": ""})
    assert r.status_code == 422 and b"Say why the quantity is changed." in r.content
    item.refresh_from_db()
    assert item.quantity == 69
    r = client.post(url, {"quantity": "60", "reason": "9 returned unused last cycle"})
    assert r.status_code == 302
    r = client.post(reverse("medications:order_approve", args=[order.pk]), {})
    assert r.status_code == 400
    r = client.post(reverse("medications:order_approve", args=[order.pk]), {"confirm": "on"})
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.approved
    pdf = client.get(reverse("medications:order_pdf", args=[order.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    export = client.get(reverse("medications:order_export", args=[order.pk])).json()
    assert {i["medicine"]: i["quantity"] for i in export["items"]} == {
        "Oxycodone 10mg capsules": "69",
        "Paracetamol 500mg tablets": "60",
    }


def test_an_empty_order_is_refused_with_a_message(client, order, senior_a):
    client.force_login(senior_a)
    OrderItem.objects.filter(order=order).update(quantity=0)
    r = client.post(reverse("medications:order_approve", args=[order.pk]), {"confirm": "on"})
    assert r.status_code == 422 and b"nothing to order" in r.content
    order.refresh_from_db()
    assert not order.approved


def _goods_in(client, order, data):
    return client.post(reverse("medications:goods_in", args=[order.pk]), data)


def test_goods_in_on_one_screen(client, order, senior_a, senior2_a):
    from medications import services

    services.order_approve(order=order, by=senior_a)
    client.force_login(senior_a)
    para = order.items.get(line__medicine__name="Paracetamol 500mg tablets")
    oxy = order.items.get(line__medicine__name="Oxycodone 10mg capsules")
    page = client.get(reverse("medications:goods_in", args=[order.pk]))
    assert page.status_code == 200 and f'name="q_{oxy.pk}"'.encode() in page.content
    # more than ordered, no discrepancy: refused, nothing written
    r = _goods_in(client, order, {f"q_{para.pk}": "70"})
    assert r.status_code == 422 and b"Record a discrepancy" in r.content
    # an expiry in the past
    r = _goods_in(client, order, {f"q_{para.pk}": "10", f"expiry_{para.pk}": "2020-01-31"})
    assert r.status_code == 422 and b"past its expiry" in r.content
    # a CD without its witness
    r = _goods_in(client, order, {f"q_{oxy.pk}": "69"})
    assert r.status_code == 422 and b"witness" in r.content
    assert not Delivery.objects.exists() and not StockMovement.objects.exists()
    r = _goods_in(
        client,
        order,
        {
            f"q_{para.pk}": "60",
            f"batch_{para.pk}": "PB1",
            f"expiry_{para.pk}": "2028-03-31",
            f"kind_{para.pk}": "short",
            f"dq_{para.pk}": "9",
            f"q_{oxy.pk}": "69",
            f"batch_{oxy.pk}": "OX1",
            f"expiry_{oxy.pk}": "2028-03-31",
            "witness_username": senior2_a.username,
            "witness_password": TEST_PASSWORD,
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    assert StockMovement.objects.filter(kind="received").count() == 2
    assert DeliveryDiscrepancy.objects.get().kind == "short"
    with CaptureQueriesContext(connection) as q:
        index = client.get(reverse("medications:orders", args=[order.home_id]))
    assert index.status_code == 200 and b"Short" in index.content
    assert len(q) < 25
    assert Decimal(9) == order.items.get(pk=para.pk).outstanding
