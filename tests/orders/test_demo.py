"""The demo's ordering cycle (R-ORD-1, R-ORD-2, R-RUN-4): mid-cycle, this cycle's order
approved, its delivery booked in with one discrepancy; the reorder list still has lines; a
second seed_demo writes nothing and appends nothing to the audit trail."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from emar.models import AuditEvent, CareHome
from medications import services
from medications.models import (
    Delivery,
    DeliveryDiscrepancy,
    MedicineOrder,
    OrderCycle,
    OrderStatus,
    StockMovement,
)


@pytest.fixture
def home(demo_db):
    return CareHome.objects.get(name="Demo Care Home")


def test_the_demo_home_is_mid_cycle_with_an_approved_order_and_one_discrepancy(home):
    cycle = OrderCycle.objects.get(home=home)
    today = home.local_today()
    assert cycle.current_start(today) < today < cycle.next_start(today)
    order = MedicineOrder.objects.get(home=home)
    assert order.status == OrderStatus.APPROVED and order.pharmacy.email
    assert Delivery.objects.filter(order=order).count() == 1
    assert DeliveryDiscrepancy.objects.filter(home=home).count() == 1
    assert services.delivery_discrepancies_open(home).count() == 1
    assert services.order_outstanding(home=home)  # the missing item is on the chase list


def test_the_demo_reorder_list_keeps_its_lines(home):
    assert services.stock_reorder_list(home=home)


def test_running_the_demo_again_adds_no_order_row_or_audit_entry(home):
    before = (
        AuditEvent.objects.count(),
        MedicineOrder.objects.count(),
        Delivery.objects.count(),
        StockMovement.objects.count(),
    )
    call_command("seed_demo", stdout=StringIO())
    after = (
        AuditEvent.objects.count(),
        MedicineOrder.objects.count(),
        Delivery.objects.count(),
        StockMovement.objects.count(),
    )
    assert after == before
