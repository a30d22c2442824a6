"""Goods in against the order (R-ORD-2): a whole delivery booked in at once through the stock
service, CDs on the register with a witness in the same transaction, discrepancies recorded and
followed up, bad input refused with nothing half-written."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from medications import selectors, services
from medications.models import (
    Delivery,
    DeliveryDiscrepancy,
    DeliveryItem,
    Stock,
    StockMovement,
)
from medications.services import DeliveryLine, OrderError, ReportedDiscrepancy, StockError
from tests.mar.conftest import DAY
from tests.orders.conftest import prepare


@pytest.fixture
def order(clock, qualified, make_line, senior_a, cycle, home_a):
    """An approved order: 69 paracetamol (none in stock) and 69 oxycodone capsules (a CD)."""
    make_line()
    make_line("Oxycodone 10mg capsules", dose_unit="capsule")
    clock("10:00")
    order = prepare(home_a)
    services.order_approve(order=order, by=senior_a)
    return order


def item(order, name):
    return order.items.get(line__medicine__name=name)


def balance(order, name) -> Decimal:
    return Stock.objects.filter(line=item(order, name).line).values_list(
        "balance", flat=True
    ).first() or Decimal(0)


PARA, OXY = "Paracetamol 500mg tablets", "Oxycodone 10mg capsules"
EXPIRY = dt.date(2028, 1, 31)


def test_a_whole_delivery_is_booked_in_with_the_cd_witnessed(order, senior_a, senior2_a):
    para, oxy = item(order, PARA), item(order, OXY)
    assert (para.quantity, oxy.quantity) == (69, 69)
    delivery = services.delivery_book(
        order=order,
        by=senior_a,
        witness=senior2_a,
        lines=[
            DeliveryLine(para, Decimal(69), batch="P1", expiry=EXPIRY),
            DeliveryLine(oxy, Decimal(69), batch="OX9", expiry=EXPIRY),
        ],
        idempotency_key=uuid.uuid4(),
    )
    assert balance(order, PARA) == 69 and balance(order, OXY) == 69
    cd = StockMovement.objects.get(line=oxy.line, kind="received")
    assert (cd.witness, cd.pharmacy, cd.batch, cd.expiry) == (
        senior2_a,
        "Boots, High Street",
        "OX9",
        EXPIRY,
    )
    assert cd.delivery_item.delivery == delivery
    # on the CD register page of the product
    page = services.cd_register_entries(resident=oxy.line.resident, medicine=oxy.line.medicine)
    assert [e.movement for e in page] == [cd]
    para.refresh_from_db()
    assert para.received == 69 and para.outstanding == 0


def test_a_cd_without_a_witness_books_nothing_in(order, senior_a):
    with pytest.raises(StockError) as e:
        services.delivery_book(
            order=order,
            by=senior_a,
            lines=[
                DeliveryLine(item(order, PARA), Decimal(69)),
                DeliveryLine(item(order, OXY), Decimal(69)),
            ],
        )
    assert e.value.code == "witness_required"
    assert not Delivery.objects.exists() and not StockMovement.objects.exists()
    assert item(order, PARA).received == 0


def test_more_than_ordered_needs_a_discrepancy(order, senior_a):
    para = item(order, PARA)
    with pytest.raises(OrderError) as e:
        services.delivery_book(order=order, by=senior_a, lines=[DeliveryLine(para, Decimal(70))])
    assert e.value.code == "more_than_ordered"
    assert not StockMovement.objects.exists()
    services.delivery_book(
        order=order,
        by=senior_a,
        lines=[
            DeliveryLine(
                para,
                Decimal(70),
                discrepancy=ReportedDiscrepancy(kind="not_ordered", quantity=Decimal(1)),
            )
        ],
    )
    assert balance(order, PARA) == 70
    d = DeliveryDiscrepancy.objects.get()
    assert (d.kind, d.quantity, d.order_item) == ("not_ordered", 1, para)


@pytest.mark.parametrize(
    ("quantity", "expiry", "code"),
    [
        (Decimal(-1), None, "quantity_not_positive"),
        (Decimal(10**9), None, "quantity_too_large"),
        (Decimal(10), DAY - dt.timedelta(days=1), "expired"),
    ],
)
def test_bad_input_writes_nothing(order, senior_a, quantity, expiry, code):
    with pytest.raises((OrderError, StockError)) as e:
        services.delivery_book(
            order=order,
            by=senior_a,
            lines=[DeliveryLine(item(order, PARA), quantity, expiry=expiry)],
        )
    assert e.value.code == code
    assert not Delivery.objects.exists() and not StockMovement.objects.exists()
    assert not DeliveryDiscrepancy.objects.exists()


def test_a_short_delivery_stays_on_the_chase_list_with_its_discrepancy(
    order, senior_a, senior2_a, home_a
):
    para, oxy = item(order, PARA), item(order, OXY)
    services.delivery_book(
        order=order,
        by=senior_a,
        lines=[
            DeliveryLine(
                para,
                Decimal(56),
                discrepancy=ReportedDiscrepancy(kind="short", quantity=Decimal(13)),
            ),
            DeliveryLine(
                oxy,
                Decimal(0),
                discrepancy=ReportedDiscrepancy(kind="missing", quantity=Decimal(69)),
            ),
        ],
        extra=[ReportedDiscrepancy(kind="not_ordered", description="Senna 7.5mg x 60 for Room 4")],
    )
    chase = selectors.order_chase_list(home=home_a)
    assert [(i.line.medicine.name, i.outstanding) for i in chase] == [(OXY, 69), (PARA, 13)]
    open_ = selectors.delivery_discrepancies_open(home=home_a)
    assert sorted(d.kind for d in open_) == ["missing", "not_ordered", "short"]
    assert not StockMovement.objects.filter(line=oxy.line).exists()
    # the rest arrives: booked against the same order
    services.delivery_book(
        order=order,
        by=senior_a,
        witness=senior2_a,
        lines=[DeliveryLine(para, Decimal(13)), DeliveryLine(oxy, Decimal(69))],
    )
    assert selectors.order_chase_list(home=home_a) == []
    assert DeliveryItem.objects.count() == 3
    missing = DeliveryDiscrepancy.objects.get(kind="missing")
    with pytest.raises(OrderError):
        services.delivery_discrepancy_resolve(discrepancy=missing, by=senior_a, resolution="")
    services.delivery_discrepancy_resolve(
        discrepancy=missing, by=senior_a, resolution="Delivered on 26 Nov"
    )
    assert sorted(d.kind for d in selectors.delivery_discrepancies_open(home=home_a)) == [
        "not_ordered",
        "short",
    ]


def test_an_unapproved_order_cannot_be_booked_in(
    clock, qualified, make_line, senior_a, cycle, home_a
):
    make_line()
    clock("10:00")
    order = prepare(home_a)
    with pytest.raises(OrderError) as e:
        services.delivery_book(
            order=order, by=senior_a, lines=[DeliveryLine(order.items.get(), Decimal(5))]
        )
    assert e.value.code == "order_not_approved"


def test_the_same_form_twice_books_in_once(order, senior_a):
    key = uuid.uuid4()
    for _ in range(2):
        services.delivery_book(
            order=order,
            by=senior_a,
            lines=[DeliveryLine(item(order, PARA), Decimal(10))],
            idempotency_key=key,
        )
    assert Delivery.objects.count() == 1 and balance(order, PARA) == 10
