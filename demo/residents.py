"""Demo residents (R-RUN-4): about 30 in Demo Care Home across Oak and Willow, three in Demo
Riverside. Fictional people with valid test NHS numbers (999 range). Idempotent: a resident
is found again by home and NHS number."""

from __future__ import annotations

import datetime as dt

import nhs_number
from django.db import transaction

from emar.models import CareHome, User
from residents import services
from residents.models import AllergyStatus, MedicationReview, Reconciliation, Resident

from .organisation import DemoContext

# full name, preferred, born, unit, room, allergies ("" = none known, None = unknown), how they
# like their medicines, swallowing, communication
PEOPLE: tuple[tuple, ...] = (
    (
        "Edith Margaret Clarke",
        "Edie",
        "1934-03-14",
        "Oak",
        "1",
        "Penicillin:rash:moderate",
        "One tablet at a time with orange juice, sitting in her chair by the window.",
        "",
        "",
    ),
    (
        "Harold James Pritchard",
        "Harry",
        "1929-11-02",
        "Oak",
        "2",
        "",
        "Likes to take tablets with his tea after breakfast.",
        "",
        "Hard of hearing: face him.",
    ),
    (
        "Winifred Rose Baker",
        "Winnie",
        "1938-06-21",
        "Oak",
        "3",
        "Codeine:vomiting:moderate",
        "Crushed in yoghurt only where the pharmacist agreed; covert plan in place.",
        "Soft diet; thickened fluids (level 2).",
        "Advanced dementia: short sentences.",
    ),
    (
        "Arthur Leonard Hughes",
        "",
        "1932-01-30",
        "Oak",
        "4",
        "",
        "Prefers liquid where possible.",
        "",
        "",
    ),
    (
        "Dorothy May Evans",
        "Dot",
        "1936-09-09",
        "Oak",
        "5",
        "Latex:skin reaction:mild",
        "Wants to know what each tablet is for before taking it.",
        "",
        "",
    ),
    (
        "Stanley George Morris",
        "Stan",
        "1931-04-17",
        "Oak",
        "6",
        "",
        "Uses his own inhaler; keeps it in the locked drawer.",
        "",
        "",
    ),
    (
        "Irene Patricia Cole",
        "",
        "1940-12-05",
        "Oak",
        "7",
        "",
        "Medicines with a glass of water, standing at the sink.",
        "",
        "",
    ),
    (
        "Frederick Thomas Shaw",
        "Fred",
        "1927-07-11",
        "Oak",
        "8",
        "Aspirin:wheeze:severe",
        "Needs reminding to swallow; offer water between tablets.",
        "Puréed diet.",
        "",
    ),
    (
        "Gladys Eileen Ward",
        "",
        "1935-02-28",
        "Oak",
        "9",
        "",
        "Morning medicines after her wash, not before.",
        "",
        "Welsh speaker.",
    ),
    (
        "Leonard Charles Foster",
        "Len",
        "1930-08-19",
        "Oak",
        "10",
        "",
        "Parkinson's: tablets exactly on time, even if asleep (wake gently).",
        "",
        "",
    ),
    (
        "Vera Elizabeth Holt",
        "",
        "1933-05-06",
        "Oak",
        "11",
        "",
        "Prefers eye drops lying down.",
        "",
        "",
    ),
    (
        "Ronald Peter Lane",
        "Ron",
        "1928-10-23",
        "Oak",
        "12",
        "Trimethoprim:rash:moderate",
        "Takes medicines in the dining room.",
        "",
        "",
    ),
    (
        "Mabel Joan Fisher",
        "",
        "1937-03-03",
        "Oak",
        "14",
        "",
        "Insulin in the tummy; she likes to see the pen dial.",
        "",
        "",
    ),
    (
        "Albert Edward Knight",
        "Bert",
        "1926-12-12",
        "Oak",
        "15",
        "",
        "Patch on the upper back so he cannot pick at it.",
        "",
        "Registered blind.",
    ),
    (
        "Phyllis Ann Rowe",
        "",
        "1939-07-29",
        "Oak",
        "16",
        None,
        "Just admitted: preferences to be discussed with her daughter.",
        "",
        "",
    ),
    (
        "Nora Kathleen Doyle",
        "",
        "1932-09-15",
        "Willow",
        "21",
        "",
        "Tablets one by one from a spoon.",
        "",
        "",
    ),
    (
        "Walter Henry Bishop",
        "Wally",
        "1929-02-08",
        "Willow",
        "22",
        "",
        "Likes to be told the time of his next dose.",
        "",
        "",
    ),
    (
        "Ethel Grace Palmer",
        "",
        "1934-11-20",
        "Willow",
        "23",
        "Ibuprofen:GI bleed:severe",
        "Warfarin at teatime with her meal.",
        "",
        "",
    ),
    (
        "Cyril Francis Hart",
        "",
        "1931-06-01",
        "Willow",
        "24",
        "",
        "Prefers soluble tablets.",
        "Dysphagia: soluble or liquid only.",
        "",
    ),
    (
        "Joan Beatrice Ellis",
        "",
        "1936-04-04",
        "Willow",
        "25",
        "",
        "Medicines before breakfast, 30 minutes before food for her weekly tablet.",
        "",
        "",
    ),
    (
        "Kenneth Ralph Burton",
        "Ken",
        "1930-01-25",
        "Willow",
        "26",
        "",
        "Will refuse if rushed: come back in 10 minutes.",
        "",
        "Dementia: calm approach.",
    ),
    (
        "Marjorie Alice Wood",
        "Marge",
        "1938-08-08",
        "Willow",
        "27",
        "",
        "Creams after her bath.",
        "",
        "",
    ),
    (
        "Douglas Roy Francis",
        "Doug",
        "1933-03-30",
        "Willow",
        "28",
        "Morphine:hallucinations:severe",
        "Takes medicines lying down in bed.",
        "",
        "",
    ),
    (
        "Sylvia Muriel Grant",
        "",
        "1935-10-10",
        "Willow",
        "29",
        "",
        "Prefers medicines with milk.",
        "",
        "",
    ),
    (
        "Bernard Hugh Lloyd",
        "",
        "1928-05-27",
        "Willow",
        "30",
        "",
        "Own supply of eye drops from the hospital.",
        "",
        "",
    ),
    (
        "Lilian Mary Webb",
        "Lily",
        "1937-12-24",
        "Willow",
        "31",
        "",
        "Medicines with jam on a spoon.",
        "Soft diet.",
        "",
    ),
    (
        "Norman Victor Page",
        "",
        "1931-09-03",
        "Willow",
        "32",
        "",
        "Fiercely independent: hand him the pot and let him take them.",
        "",
        "",
    ),
    (
        "Hilda Constance Reid",
        "",
        "1934-01-16",
        "Willow",
        "33",
        "Sulfonamides:rash:moderate",
        "Afternoon medicines in the garden room.",
        "",
        "",
    ),
    (
        "Eric William Dawson",
        "",
        "1930-07-07",
        "Willow",
        "34",
        "",
        "On end-of-life care: comfort first.",
        "",
        "Drowsy: speak before touching.",
    ),
    (
        "Margaret Olive Booth",
        "Peggy",
        "1936-02-14",
        "Willow",
        "35",
        "",
        "Likes a biscuit with her tablets.",
        "",
        "",
    ),
    ("Rita Joyce Barker", "", "1935-05-05", "Riverside", "R1", "", "With a cup of tea.", "", ""),
    (
        "Thomas Alfred Nolan",
        "Tom",
        "1929-03-19",
        "Riverside",
        "R2",
        "Penicillin:anaphylaxis:life_threatening",
        "Tablets in the dining room at breakfast.",
        "",
        "",
    ),
    (
        "Agnes Louise Fry",
        "",
        "1933-11-11",
        "Riverside",
        "R3",
        "",
        "Liquid medicines from a medicine cup.",
        "",
        "",
    ),
)


def demo_nhs_number(index: int) -> str:
    """The index-th valid 999-range test NHS number (fictional people only)."""
    n = 100 + index * 7
    while True:
        stem = f"999{n:06d}"
        check = nhs_number.calculate_checksum(stem)
        if check is not None and check != 10:
            return f"{stem}{check}"
        n += 1


def _parse_allergies(spec: str | None) -> list[tuple[str, str, str]]:
    if not spec:
        return []
    return [tuple(part.split(":")) for part in spec.split(";")]  # type: ignore[misc]


def _admit(ctx: DemoContext, home: CareHome, index: int, row: tuple, by: User) -> Resident:
    name, preferred, born, unit_name, room, allergies, prefs, swallowing, talking = row
    number = demo_nhs_number(index)
    existing = Resident.objects.filter(home=home, nhs_number=number).first()
    if existing:
        return existing
    today = home.local_today()
    admitted = today - dt.timedelta(days=60 + index * 23)
    if allergies is None:
        admitted = today - dt.timedelta(days=1)
    if index == 7:  # long-stay resident whose medication review is overdue (R-RES-4)
        admitted = today - dt.timedelta(days=900)
    person = services.resident_admit(
        home=home,
        unit=ctx.units[unit_name],
        by=by,
        full_name=name,
        preferred_name=preferred,
        date_of_birth=dt.date.fromisoformat(born),
        nhs_number=number,
        room=room,
        admitted_on=admitted,
        gp_practice="Riverside Medical Practice" if index % 2 else "Oakfield Surgery",
        pharmacy="High Street Pharmacy",
        medicine_preferences=prefs,
        swallowing_needs=swallowing,
        communication_needs=talking,
        allergy_status=AllergyStatus.UNKNOWN
        if allergies
        else (AllergyStatus.UNKNOWN if allergies is None else AllergyStatus.NONE_KNOWN),
    )
    for substance, reaction, severity in _parse_allergies(allergies):
        services.allergy_add(
            resident=person,
            by=by,
            substance=substance,
            reaction=reaction,
            severity=severity,
            reason="GP record at admission",
        )
    if allergies is not None:
        rec = services.reconciliation_start(
            resident=person,
            by=by,
            reason="admission",
            arrived_on=admitted,
            sources=["discharge_letter", "gp_record"]
            if index % 3
            else ["previous_mar", "own_supply"],
        )
        if index % 4 == 0:
            item = services.discrepancy_add(
                reconciliation=rec,
                by=by,
                description="Discharge letter omits omeprazole listed on the GP record",
            )
            services.discrepancy_resolve(
                discrepancy=item, by=by, resolution="GP confirmed: continue omeprazole"
            )
        services.reconciliation_complete(reconciliation=rec, by=by)
        # Review dates: one resident overdue (over 12 months), the rest within the year.
        held = today - dt.timedelta(days=400 if index == 7 else 30 + index * 9)
        if held >= admitted or index == 7:
            MedicationReview.objects.get_or_create(
                resident=person,
                held_on=max(held, admitted),
                defaults={
                    "participants": "GP, community pharmacist, resident",
                    "outcome": "Medicines reviewed; no changes.",
                    "recorded_by": by,
                },
            )
    return person


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    manager = ctx.users["manager"]
    riverside_manager = ctx.users.get("manager_riverside", manager)
    for index, row in enumerate(PEOPLE):
        home = ctx.riverside if row[3] == "Riverside" else ctx.home
        by = riverside_manager if home == ctx.riverside else manager
        _admit(ctx, home, index, row, by)
    # Keep the in-progress reconciliation of the newest admission visible.
    newest = Resident.objects.filter(home=ctx.home, allergy_status=AllergyStatus.UNKNOWN).first()
    if newest and not Reconciliation.objects.filter(resident=newest).exists():
        services.reconciliation_start(
            resident=newest,
            by=manager,
            reason="admission",
            arrived_on=newest.admitted_on,
            sources=["discharge_letter"],
            notes="Waiting for the GP summary.",
        )
