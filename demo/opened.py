"""A demo opened eye drop (R-STK-7, H-15): the eye drops of the demo home's resident were opened
24 days before the demo was loaded, so their 28 days of use end this week and they are on the
"expiring this week" list and the home dashboard. The other liquids and inhalers have no date
opened, as the list shows. Idempotent: nothing is added once the home has any opening."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from medications.models import LineStatus, OpenedSupply, PrescriptionLine, Stock
from medications.services import supply_open

from .organisation import DemoContext

OPENED_DAYS_AGO = 24


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    senior = ctx.users.get("senior")
    if ctx.home is None or senior is None:
        return
    if OpenedSupply.objects.filter(home=ctx.home).exists():
        return
    drops = (
        PrescriptionLine.objects.filter(
            home=ctx.home,
            status=LineStatus.ACTIVE,
            stopped_at__isnull=True,
            medicine__form__icontains="eye drops",
            pk__in=Stock.objects.filter(balance__gt=0).values("line_id"),
        )
        .select_related("medicine", "resident", "home")
        .order_by("pk")
        .first()
    )
    if drops is None:
        return
    opening = supply_open(
        line=drops,
        by=senior,
        opened_at=ctx.now - dt.timedelta(days=OPENED_DAYS_AGO),
        batch="LT2291",
    )
    ctx.notes.append(
        f"{drops.resident.full_name}'s {drops.medicine.name} were opened "
        f"{opening.opened_on:%-d %b}: use until {opening.in_use_expiry:%-d %b} (this week)."
    )
