"""URL kwargs of the ordering pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py): an approved order at home A with one item and a
delivery that recorded one discrepancy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from emar.models import CareHome, Unit, User
from medications import services
from medications.models import OrderCycle
from residents.models import AllergyStatus
from tests.medications.factories import line
from tests.residents.factories import resident


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    senior, manager = users["senior"], users["manager"]
    person = resident(unit, senior, allergy_status=AllergyStatus.NONE_KNOWN, full_name="Ada Ord")
    live = line(person, senior, checker=manager, name="Amlodipine 5mg tablets")
    today = home.local_today()
    OrderCycle.objects.get_or_create(
        home=home, defaults={"start_date": today - dt.timedelta(days=10), "lead_days": 7}
    )
    order, _ = services.order_prepare(home=home, cycle_start=today)
    item = order.items.filter(line=live).first() or services.order_item_add(
        order=order, line=live, by=senior, quantity=Decimal(28), reason="New line"
    )
    services.order_approve(order=order, by=senior)
    delivery = services.delivery_book(
        order=order,
        by=senior,
        lines=[],
        problems=[services.ProblemInput(kind="missing", description="Not in the bag", item=item)],
    )
    return {
        "order_id": order.pk,
        "order_item_id": item.pk,
        "delivery_discrepancy_id": delivery.discrepancies.get().pk,
    }
