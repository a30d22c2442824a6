"""The demo's ordering cycle (R-ORD-1, R-ORD-2, R-RUN-4): Demo Care Home is mid-cycle with an
approved order for this cycle and a delivery booked in with one discrepancy to follow up."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from medications import selectors, services
from medications.models import Delivery, DeliveryDiscrepancy, MedicationOrder


@pytest.fixture
def demo(demo_db):
    return demo_db


def test_the_demo_home_is_mid_cycle_with_an_approved_order_and_a_delivery(demo):
    cycle = services.order_cycle_of(demo)
    today = demo.local_today()
    assert cycle.start < today < cycle.next_start
    order = MedicationOrder.objects.get(home=demo, cycle_start=cycle.start)
    assert order.approved and order.pharmacy.name == "Hillside Pharmacy"
    delivery = Delivery.objects.get(order=order)
    assert delivery.items.exists()
    assert [d.kind for d in DeliveryDiscrepancy.objects.filter(delivery=delivery)] == ["short"]
    assert [d.kind for d in selectors.delivery_discrepancies_open(home=demo)] == ["short"]
    assert selectors.order_chase_list(home=demo)  # the short item is still outstanding


def test_seeding_twice_makes_no_second_order_or_delivery(demo):
    call_command("seed_demo", stdout=StringIO())
    assert MedicationOrder.objects.filter(home=demo).count() == 1
    assert Delivery.objects.filter(order__home=demo).count() == 1
