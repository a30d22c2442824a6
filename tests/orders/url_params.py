"""URL kwargs of the ordering pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py): a prepared order with an item, and a delivery
discrepancy on an approved order of the cycle before."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from emar.models import CareHome, Unit, User
from medications import services
from medications.models import MedicationOrder, OrderItem
from residents.models import AllergyStatus
from tests.medications.factories import line
from tests.residents.factories import resident


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    senior, manager = users["senior"], users["manager"]
    person = resident(unit, senior, allergy_status=AllergyStatus.NONE_KNOWN)
    live = line(person, senior, checker=manager)
    services.pharmacy_create(name="Boots, High Street", homes=[home], by=None)
    today = home.local_today()
    services.order_cycle_set(home=home, by=manager, start=today, order_days_before=7)
    order = services.order_prepare(home=home, force=True)
    earlier = MedicationOrder.objects.create(
        home=home,
        cycle_start=today,
        cycle_end=today + dt.timedelta(days=27),
        order_date=today - dt.timedelta(days=7),
    )
    item = OrderItem.objects.create(order=earlier, line=live, quantity=Decimal(56))
    services.order_approve(order=earlier, by=senior)
    delivery = services.delivery_book(
        order=earlier,
        by=senior,
        lines=[
            services.DeliveryLine(
                item,
                Decimal(0),
                discrepancy=services.ReportedDiscrepancy(kind="missing", quantity=Decimal(56)),
            )
        ],
    )
    return {
        "order_id": order.pk,
        "order_item_id": order.items.get(line=live).pk,
        "delivery_discrepancy_id": delivery.discrepancies.get().pk,
    }
