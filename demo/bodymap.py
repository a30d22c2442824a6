"""A demo cream on the body map (R-MAR-17): hydrocortisone 1% cream for the resident who
already has the emollient, applied morning and night to both forearms (front) and the back of
the left hand, with instructions per site, entered by a senior and checked by a second one.
Idempotent: nothing is added once she has the cream."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.db import transaction

from emar.models import Round
from medications import services
from medications.models import Medicine
from medications.services import ScheduleInput, SiteInput
from residents.models import Resident

from .organisation import DemoContext
from .residents import demo_nhs_number

CREAM = "Hydrocortisone 1% cream"
RESIDENT_INDEX = 21  # the resident with the emollient ointment (demo/prescriptions.py)
SITES = [
    SiteInput("left_forearm_front", "Thin layer on the eczema; not on broken skin"),
    SiteInput("right_forearm_front", "Thin layer on the eczema; not on broken skin"),
    SiteInput("left_hand_back", "Back of the hand only; wash your hands after"),
]


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    home = ctx.home
    senior, checker = ctx.users.get("senior"), ctx.users.get("senior2")
    if home is None or senior is None or checker is None:
        return
    person = (
        Resident.objects.current()
        .filter(home=home, nhs_number=demo_nhs_number(RESIDENT_INDEX))
        .first()
    )
    medicine = Medicine.objects.filter(name=CREAM).first()
    if person is None or medicine is None or person.lines.filter(medicine=medicine).exists():
        return
    rounds = {r.name: r for r in Round.objects.filter(home=home)}
    slots = [(rounds[n].time, rounds[n].pk, n) for n in ("Morning", "Night") if n in rounds]
    line = services.line_create(
        resident=person,
        medicine=medicine,
        by=senior,
        dose=Decimal(1),
        dose_unit="application",
        route="topical",
        prescriber="Dr N. Shah",
        source="gp",
        source_detail="Acute prescription for eczema",
        start_date=home.local_today(),
        end_date=home.local_today() + dt.timedelta(days=13),
        schedule=ScheduleInput(slots=slots or [(dt.time(8), None, "")]),
        indication="Eczema on the forearms and left hand",
        instructions="Two weeks, then review",
        sites=SITES,
        idempotency_key=uuid.uuid5(uuid.NAMESPACE_URL, f"emar-demo-body-map-{person.pk}"),
    )
    services.line_check(line=line, by=checker)
    ctx.notes.append(f"{person.full_name} has a cream on the body map ({CREAM}).")
