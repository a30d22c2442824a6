"""URL kwargs of the stock pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py); `line_id` and `resident_id` come from
tests/medications/url_params.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from emar.models import CareHome, Unit, User
from medications import services
from medications.models import Medicine, StorageLocation
from residents.models import AllergyStatus
from tests.medications.factories import line
from tests.residents.factories import resident


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    senior, manager = users["senior"], users["manager"]
    person = resident(unit, senior, allergy_status=AllergyStatus.NONE_KNOWN)
    live = line(person, senior, checker=manager)
    receipt = services.stock_receive(
        line=live, by=senior, quantity=Decimal(28), pharmacy="Boots, High Street"
    )
    # R-STK-7: an opened eye drop, so the "expiring" list has its forms to fuzz.
    drops = line(
        person,
        senior,
        checker=manager,
        name="Hypromellose 0.3% eye drops",
        dose_unit="drop",
        route="eye",
    )
    services.stock_receive(line=drops, by=senior, quantity=Decimal(1), pharmacy="Boots")
    services.supply_open(line=drops, by=senior, opened_at=timezone.now() - dt.timedelta(days=27))
    StorageLocation.objects.get_or_create(home=home, name="Treatment room fridge", kind="fridge")
    medicine = Medicine.objects.filter(cd_register=True).order_by("pk").first()
    return {"movement_id": receipt.pk, "medicine_id": medicine.pk}
