"""Demo prescriptions (R-RUN-4): the realistic mix — regular, PRN with protocols, CDs,
time-sensitive co-careldopa and insulin, patches, warfarin by INR, covert, self-administered
inhalers — all checked by a second senior. Idempotent: a resident who has lines is skipped.

The lines are back-dated as entered and checked six weeks ago so that a later step can build
six weeks of MAR history on them; the audit trail still records the entries as made by seed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from emar.models import CareHome, Round, User
from medications import selectors, services
from medications.models import Medicine, PrescriptionLine, ScheduleVersion
from medications.services import ScheduleInput
from residents import services as resident_services
from residents.models import AllergyStatus, Resident

from .organisation import DemoContext
from .residents import PEOPLE, demo_nhs_number

HISTORY_DAYS = 42


def _rounds(home: CareHome, *names: str, **kw) -> ScheduleInput:
    by_name = {r.name: r for r in Round.objects.filter(home=home)}
    return ScheduleInput(slots=[(by_name[n].time, by_name[n].pk, n) for n in names], **kw)


def _times(*hhmm: str, **kw) -> ScheduleInput:
    return ScheduleInput(slots=[(dt.time.fromisoformat(t), None, "") for t in hhmm], **kw)


def _prn_protocol(
    home: CareHome, indication: str, interval: int, most: int, signs: str, **kw
) -> dict:
    return {
        "indication": indication,
        "dose_guidance": kw.get("guidance", "As prescribed; lowest dose first."),
        "min_interval_minutes": interval,
        "max_doses_24h": most,
        "signs": signs,
        "can_ask": kw.get("can_ask", "yes"),
        "alternatives": kw.get("alternatives", "Reassurance, reposition, drink, company"),
        "contact_prescriber": kw.get("contact", "If needed on 3 days in a row or not working"),
        "review_date": home.local_today() + dt.timedelta(days=kw.get("review_in", 60)),
    }


def _lines_for(home: CareHome) -> dict[int, list[dict]]:
    """Lines per PEOPLE index."""
    M, L, T, N = "Morning", "Lunchtime", "Teatime", "Night"
    regular = {"dose_unit": "tablet", "route": "oral"}
    return {
        0: [
            {
                "medicine": "Amlodipine 5mg tablets",
                "schedule": _rounds(home, M),
                **regular,
                "indication": "Blood pressure",
            },
            {
                "medicine": "Paracetamol 500mg tablets",
                "dose": 1,
                "dose_max": 2,
                "prn": True,
                **regular,
                "indication": "Pain",
                "protocol": _prn_protocol(
                    home,
                    "Mild to moderate pain",
                    240,
                    4,
                    "Rubbing her knees, says 'it aches'",
                    guidance="1 tablet; 2 if pain is moderate",
                ),
            },
        ],
        1: [
            {"medicine": "Atorvastatin 20mg tablets", "schedule": _rounds(home, N), **regular},
            {"medicine": "Bisoprolol 2.5mg tablets", "schedule": _rounds(home, M), **regular},
            {
                "medicine": "Oxycodone 5mg modified-release tablets",
                "schedule": _times("08:00", "20:00"),
                **regular,
                "indication": "Back pain",
            },
        ],
        2: [
            {
                "medicine": "Levetiracetam 100mg/ml oral solution sugar free",
                "dose": 5,
                "dose_unit": "ml",
                "route": "oral",
                "schedule": _rounds(home, M, N),
                "indication": "Epilepsy",
                "covert": True,
            },
            {"medicine": "Donepezil 10mg tablets", "schedule": _rounds(home, N), **regular},
        ],
        3: [
            {
                "medicine": "Morphine sulfate 10mg/5ml oral solution",
                "dose": Decimal("2.5"),
                "dose_max": 5,
                "dose_unit": "ml",
                "route": "oral",
                "prn": True,
                "indication": "Breakthrough pain",
                "protocol": _prn_protocol(
                    home,
                    "Breakthrough pain",
                    120,
                    6,
                    "Grimacing, calling out, restless",
                    guidance="2.5ml; 5ml if still in pain after 1 hour",
                ),
            },
            {
                "medicine": "Lactulose 3.1-3.7g/5ml oral solution",
                "dose": 10,
                "dose_unit": "ml",
                "route": "oral",
                "schedule": _rounds(home, M, T),
            },
        ],
        5: [
            {
                "medicine": "Salbutamol 100micrograms/dose inhaler CFC free",
                "dose": 2,
                "dose_unit": "puff",
                "route": "inhaled",
                "prn": True,
                "indication": "Breathless",
                "self_admin": True,
                "protocol": _prn_protocol(
                    home,
                    "Breathlessness or wheeze",
                    240,
                    4,
                    "Wheeze, breathless on walking",
                    can_ask="yes",
                ),
            },
            {
                "medicine": "Beclometasone 100micrograms/dose inhaler CFC free",
                "dose": 2,
                "dose_unit": "puff",
                "route": "inhaled",
                "schedule": _rounds(home, M, N),
                "self_admin": True,
                "instructions": "Rinse mouth after use",
            },
        ],
        6: [
            {
                "medicine": "Ramipril 5mg capsules",
                "dose_unit": "capsule",
                "route": "oral",
                "schedule": _rounds(home, M),
            },
            {
                "medicine": "Furosemide 40mg tablets",
                "schedule": _rounds(home, M),
                **regular,
                "instructions": "Weigh weekly",
            },
        ],
        7: [
            {
                "medicine": "Omeprazole 20mg gastro-resistant capsules",
                "dose_unit": "capsule",
                "route": "oral",
                "schedule": _rounds(home, M),
                "instructions": "Before breakfast",
            },
        ],
        9: [
            {
                "medicine": "Co-careldopa 25mg/100mg tablets",
                **regular,
                "schedule": _times("07:00", "11:00", "15:00", "19:00"),
                "time_sensitive": True,
                "tolerance_minutes": 15,
                "indication": "Parkinson's disease",
            },
            {
                "medicine": "Co-careldopa 25mg/100mg modified-release tablets",
                **regular,
                "schedule": _times("22:00"),
                "time_sensitive": True,
                "tolerance_minutes": 15,
            },
        ],
        10: [
            {
                "medicine": "Latanoprost 50micrograms/ml / Timolol 5mg/ml eye drops",
                "dose": 1,
                "dose_unit": "drop",
                "route": "eye",
                "schedule": _rounds(home, N),
                "instructions": "One drop in each eye",
            },
        ],
        12: [
            {
                "medicine": "Lantus 100units/ml solution for injection 3ml pre-filled SoloStar "
                "pens (Sanofi)",
                "dose": 18,
                "dose_unit": "unit",
                "route": "subcutaneous",
                "schedule": _times("08:00"),
                "time_sensitive": True,
                "tolerance_minutes": 30,
                "instructions": "Check blood glucose first; rotate sites",
            },
            {
                "medicine": "Metformin 500mg tablets",
                "schedule": _rounds(home, M, T),
                **regular,
                "instructions": "With food",
            },
        ],
        13: [
            {
                "medicine": "Fentanyl 12micrograms/hour transdermal patches",
                "dose": 1,
                "dose_unit": "patch",
                "route": "transdermal",
                "schedule": _times("09:00", days="every_n_days", every_n=3),
                "instructions": "Remove old patch; new site each time",
            },
        ],
        15: [
            {
                "medicine": "Buprenorphine 5micrograms/hour transdermal patches",
                "dose": 1,
                "dose_unit": "patch",
                "route": "transdermal",
                "schedule": _times("09:00", days="weekdays", weekdays=[2]),
                "instructions": "Weekly on Wednesday; remove old patch",
            },
            {"medicine": "Sertraline 50mg tablets", "schedule": _rounds(home, M), **regular},
        ],
        16: [
            {"medicine": "Mirtazapine 15mg tablets", "schedule": _rounds(home, N), **regular},
            {
                "medicine": "Lorazepam 500microgram tablets",
                "prn": True,
                **regular,
                "indication": "Severe anxiety",
                "protocol": _prn_protocol(
                    home,
                    "Severe anxiety not eased by reassurance",
                    480,
                    2,
                    "Pacing, shouting, trying to leave",
                    can_ask="sometimes",
                    review_in=28,
                ),
            },
        ],
        17: [
            {
                "medicine": "Warfarin 1mg tablets",
                "route": "oral",
                "dose_unit": "tablet",
                "schedule": _rounds(home, T, dose_rule="variable"),
                "warfarin": True,
                "indication": "Atrial fibrillation",
                "instructions": "Dose per INR book",
            },
        ],
        18: [
            {
                "medicine": "Paracetamol 500mg soluble tablets",
                "dose": 2,
                **regular,
                "schedule": _rounds(home, M, L, T, N),
                "instructions": "Dissolve in water",
            },
        ],
        19: [
            {
                "medicine": "Alendronic acid 70mg tablets",
                **regular,
                "schedule": _times("07:00", days="weekdays", weekdays=[0]),
                "instructions": "30 minutes before food, with water, stay upright",
            },
            {
                "medicine": "Calcium carbonate 1.5g / Colecalciferol 400unit chewable tablets",
                **regular,
                "schedule": _rounds(home, L),
            },
        ],
        20: [
            {
                "medicine": "Prednisolone 5mg tablets",
                **regular,
                "schedule": _rounds(
                    home,
                    M,
                    dose_rule="tapering",
                    taper=[(5, Decimal(6)), (5, Decimal(4)), (5, Decimal(2))],
                ),
                "indication": "Polymyalgia flare: reducing course",
            },
        ],
        21: [
            {
                "medicine": "Liquid paraffin 50% / White soft paraffin 50% ointment",
                "dose": 1,
                "dose_unit": "application",
                "route": "topical",
                "schedule": _rounds(home, M, N),
                "instructions": "Thin layer to both legs",
            },
        ],
        22: [
            {
                "medicine": "Oxycodone 5mg/5ml oral solution",
                "dose": Decimal("2.5"),
                "dose_max": 5,
                "dose_unit": "ml",
                "route": "oral",
                "prn": True,
                "indication": "Pain (morphine intolerant)",
                "protocol": _prn_protocol(home, "Pain", 240, 4, "Grimacing, guarding"),
            },
        ],
        25: [
            {
                "medicine": "Ferrous fumarate 210mg tablets",
                **regular,
                "schedule": _times("08:00", days="cyclic", cycle_on=21, cycle_off=7),
            },
        ],
        26: [
            {
                "medicine": "Levothyroxine sodium 50microgram tablets",
                **regular,
                "schedule": _times("06:30"),
                "instructions": "On an empty stomach",
            },
        ],
        28: [
            {
                "medicine": "Midazolam 10mg/2ml solution for injection ampoules",
                "dose": Decimal(2),
                "dose_max": Decimal("2.5"),
                "dose_unit": "mg",
                "route": "subcutaneous",
                "prn": True,
                "indication": "Agitation at end of life (anticipatory)",
                "protocol": _prn_protocol(
                    home,
                    "Terminal agitation",
                    60,
                    6,
                    "Restless, distressed",
                    can_ask="no",
                    contact="Call district nurse to give; inform GP",
                ),
            },
        ],
    }


def _covert_plan(home: CareHome) -> dict:
    today = home.local_today()
    return {
        "capacity_assessment": "Lacks capacity to understand and weigh up her epilepsy "
        "medicine (MCA two-stage test).",
        "capacity_assessed_on": today - dt.timedelta(days=40),
        "best_interests_decision": "Give covertly in a spoon of yoghurt: seizures untreated "
        "otherwise; offer openly first each time.",
        "best_interests_participants": "Dr Shah (GP), Mrs Baker's son (LPA health), senior "
        "carer, community pharmacist",
        "decided_on": today - dt.timedelta(days=38),
        "pharmacist_advice": "Oral solution can be mixed with a teaspoon of yoghurt; give at "
        "once, do not add to a full bowl.",
        "pharmacist": "A. Patel, High Street Pharmacy",
        "review_date": today + dt.timedelta(days=50),
    }


def _backdate(line: PrescriptionLine, when: dt.datetime) -> None:
    """Demo history only: pretend the line was entered and checked at `when`."""
    PrescriptionLine.objects.filter(pk=line.pk).update(entered_at=when, checked_at=when)
    ScheduleVersion.objects.filter(line=line).update(
        created_at=when, checked_at=when, requested_from=when, effective_from=when
    )


def _seed_home(
    home: CareHome, indexes: dict[int, list[dict]], enterer: User, checker: User
) -> None:
    today = home.local_today()
    start = today - dt.timedelta(days=HISTORY_DAYS)
    began = timezone.now() - dt.timedelta(days=HISTORY_DAYS)
    for index, specs in indexes.items():
        person = Resident.objects.filter(home=home, nhs_number=demo_nhs_number(index)).first()
        if person is None or person.lines.exists():
            continue
        for spec in specs:
            spec = dict(spec)
            protocol = spec.get("protocol") or {}
            # R-RX-6: the PRN limits are the prescriber's directions on the line; the demo's
            # protocols repeat them (a protocol may only be stricter).
            directions = (
                {
                    "prn_min_interval_minutes": protocol.get("min_interval_minutes"),
                    "prn_max_doses_24h": protocol.get("max_doses_24h"),
                }
                if spec.get("prn")
                else {}
            )
            line = services.line_create(
                resident=person,
                medicine=Medicine.objects.get(name=spec.pop("medicine")),
                by=enterer,
                dose=Decimal(spec.pop("dose", 1)),
                dose_max=Decimal(spec.pop("dose_max")) if "dose_max" in spec else None,
                dose_unit=spec.pop("dose_unit"),
                route=spec.pop("route"),
                prescriber="Dr N. Shah",
                source="gp",
                source_detail="Monthly repeat prescription",
                start_date=start if index != 20 else today - dt.timedelta(days=4),
                schedule=spec.pop("schedule", None),
                is_prn=spec.pop("prn", False),
                indication=spec.pop("indication", ""),
                instructions=spec.pop("instructions", ""),
                time_sensitive=spec.pop("time_sensitive", False),
                tolerance_minutes=spec.pop("tolerance_minutes", 15),
                **directions,
            )
            if person.allergy_status == AllergyStatus.UNKNOWN:
                continue  # stays awaiting check: shows the block (R-RES-2)
            services.line_check(line=line, by=checker)
            _backdate(line, began)
            if protocol := spec.pop("protocol", None):
                services.prn_protocol_write(line=line, by=enterer, **protocol)
            if spec.pop("covert", False):
                services.covert_plan_record(line=line, by=enterer, **_covert_plan(home))
            if spec.pop("self_admin", False):
                services.self_admin_assess(
                    line=line,
                    by=enterer,
                    has_capacity=True,
                    dexterity_ok=True,
                    storage_ok=True,
                    low_risk_to_others=True,
                    self_administers=True,
                    review_date=today + dt.timedelta(days=90),
                    notes="Keeps inhalers in his locked bedside drawer.",
                )
            if spec.pop("warfarin", False):
                # R-RX-3: each day's dose with the INR and who advised it; today's and
                # tomorrow's are checked by a second senior, the third awaits its check.
                for offset, dose in enumerate((Decimal(3), Decimal("2.5"), Decimal(3))):
                    entry = services.variable_dose_set(
                        line=line,
                        by=enterer,
                        day=today + dt.timedelta(days=offset),
                        dose=dose,
                        inr=Decimal("2.4"),
                        inr_date=today - dt.timedelta(days=1),
                        advised_by="R. Osei, anticoagulation clinic nurse",
                        note="Target INR 2-3",
                    )
                    if offset < 2:
                        services.variable_dose_check(entry=entry, by=checker)


# Everyday regular medicines, so a round looks like a real one: each resident of Demo Care Home
# gets two to four of these (never one they are allergic to, never a duplicate).
COMMON: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Atorvastatin 20mg tablets", ("Night",), "Cholesterol"),
    ("Omeprazole 20mg gastro-resistant capsules", ("Morning",), "Indigestion"),
    ("Levothyroxine sodium 50microgram tablets", ("Morning",), "Underactive thyroid"),
    ("Sertraline 50mg tablets", ("Morning",), "Low mood"),
    ("Ramipril 2.5mg capsules", ("Morning",), "Blood pressure"),
    ("Furosemide 40mg tablets", ("Morning",), "Fluid retention"),
    ("Metformin 500mg tablets", ("Morning", "Teatime"), "Type 2 diabetes"),
    ("Senna 7.5mg tablets", ("Night",), "Constipation"),
    ("Donepezil 5mg tablets", ("Night",), "Dementia"),
    ("Bisoprolol 2.5mg tablets", ("Morning",), "Heart rate"),
    ("Mirtazapine 15mg tablets", ("Night",), "Sleep and mood"),
)


def _with_common_lines(home: CareHome, specs: dict[int, list[dict]]) -> dict[int, list[dict]]:
    result = {i: list(v) for i, v in specs.items()}
    for index, row in enumerate(PEOPLE):
        if row[3] not in ("Oak", "Willow") or row[5] is None:
            continue
        taken = {spec["medicine"] for spec in result.get(index, [])}
        person = Resident.objects.filter(home=home, nhs_number=demo_nhs_number(index)).first()
        allergies = list(person.allergies.filter(removed_at__isnull=True)) if person else []
        wanted = 2 + index % 3
        for k in range(len(COMMON)):
            name, rounds, indication = COMMON[(index * 3 + k) % len(COMMON)]
            medicine = Medicine.objects.filter(name=name).first()
            if len(taken) >= wanted + len(specs.get(index, [])) or medicine is None:
                break
            if name in taken or selectors.allergy_matches(medicine, allergies):
                continue
            result.setdefault(index, []).append(
                {
                    "medicine": name,
                    "dose_unit": "capsule" if "capsule" in name else "tablet",
                    "route": "oral",
                    "schedule": _rounds(home, *rounds),
                    "indication": indication,
                }
            )
            taken.add(name)
    return result


# R-RX-11 in the demo: an allergy reported after a line went live. The re-check matches it with
# Arthur's morphine PRN (same product, no clinical equivalence made up), the round shows
# "Allergy match: Morphine" on the line and the seniors are told.
REPORTED_LATER = (
    3,
    "Morphine",
    "Itching and rash after a breakthrough dose",
    "moderate",
    "Reported by the district nurse; GP informed",
)


def _allergy_reported_later(home: CareHome, by: User) -> None:
    index, substance, reaction, severity, reason = REPORTED_LATER
    person = Resident.objects.filter(home=home, nhs_number=demo_nhs_number(index)).first()
    if person is None or person.allergies.filter(substance__iexact=substance).exists():
        return
    resident_services.allergy_add(
        resident=person,
        by=by,
        substance=substance,
        reaction=reaction,
        severity=severity,
        reason=reason,
    )


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    home = ctx.home
    _seed_home(
        home, _with_common_lines(home, _lines_for(home)), ctx.users["senior"], ctx.users["senior2"]
    )
    _allergy_reported_later(home, ctx.users["senior"])
    # The newest admission (allergy status unknown) gets a line that cannot be activated.
    unknown = next(i for i, row in enumerate(PEOPLE) if row[5] is None)
    _seed_home(
        home,
        {
            unknown: [
                {
                    "medicine": "Paracetamol 500mg tablets",
                    "dose_unit": "tablet",
                    "route": "oral",
                    "schedule": _rounds(home, "Morning", "Night"),
                }
            ]
        },
        ctx.users["senior"],
        ctx.users["senior2"],
    )
    riverside = ctx.riverside
    river_people = {i: row for i, row in enumerate(PEOPLE) if row[3] == "Riverside"}
    specs = {
        i: [
            {
                "medicine": "Amlodipine 5mg tablets",
                "dose_unit": "tablet",
                "route": "oral",
                "schedule": _rounds(riverside, "Morning"),
            }
        ]
        for i in river_people
    }
    manager = ctx.users.get("manager_riverside")
    admin = ctx.users.get("admin")
    if manager and admin:
        _seed_home(riverside, specs, manager, admin)
