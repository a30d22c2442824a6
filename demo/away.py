"""A demo resident in hospital (R-RES-6): Walter Bishop in Willow, away since the demo was loaded
and expected back in three days, so the round shows "Away: in hospital" and his doses are coded
H by the background job. Idempotent: nothing is added once he has any absence."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from residents import services
from residents.models import Absence, Resident

from .organisation import DemoContext

IN_HOSPITAL = "Walter Henry Bishop"


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    if ctx.home is None:
        return
    walter = Resident.objects.current().filter(home=ctx.home, full_name=IN_HOSPITAL).first()
    senior = ctx.users.get("senior")
    if walter is None or senior is None or Absence.objects.filter(resident=walter).exists():
        return
    services.resident_away_start(
        resident=walter,
        by=senior,
        kind="hospital",
        started_at=ctx.now,
        expected_return=ctx.home.local_today() + dt.timedelta(days=3),
        note="Admitted to the Royal Infirmary, ward 12, after a fall.",
    )
    ctx.notes.append(f"{walter.full_name} is in hospital (away; doses recorded H).")
