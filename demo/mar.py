"""Six weeks of MAR history for the demo homes (R-RUN-4): mostly given, some refusals and other
codes, a few gaps, late entries, PRN doses with follow-ups, controlled drugs with witnesses,
patch site rotation and one correction. Deterministic (a fixed random seed) and idempotent.

History is written in bulk, not through the recording service, because the service only
records today's doses (R-MAR-3); one audit-trail entry says that it was loaded.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from emar.models import CareHome, NonAdministrationCode, Shift, User
from emar.services import audit_append
from medications import services
from medications.models import (
    BODY_SITES,
    Administration,
    Effectiveness,
    HomelyRemedy,
    HomelyRemedyAuthorisation,
    HomelyRemedyDose,
    LineStatus,
    Medicine,
    PrescriptionLine,
    PrnFollowUp,
    ScheduledDose,
    VariableDose,
)
from residents.models import Resident

from .organisation import DemoContext
from .people import recorders
from .prescriptions import HISTORY_DAYS
from .residents import demo_nhs_number

# Share of past doses by outcome; the rest are given.
REFUSED, ASLEEP_THEN_GIVEN, OTHER_CODE, GAP, LATE = 0.035, 0.01, 0.01, 0.006, 0.012


def _history(home: CareHome, ctx: DemoContext, rng: random.Random) -> int:
    today = home.local_today()
    start = today - dt.timedelta(days=HISTORY_DAYS)
    now = timezone.now()
    lines = PrescriptionLine.objects.filter(home=home, status=LineStatus.ACTIVE)
    warfarin = [ln for ln in lines if "warfarin" in ln.medicine.name.lower()]
    entered_by = ctx.users.get("senior") or ctx.users["manager_riverside"]
    checked_by = ctx.users.get("senior2") or ctx.users.get("manager") or ctx.users["manager"]
    for line in warfarin:
        existing = set(line.variable_doses.values_list("day", flat=True))
        VariableDose.objects.bulk_create(
            VariableDose(
                line=line,
                day=start + dt.timedelta(days=i),
                dose=rng.choice([Decimal(3), Decimal("2.5")]),
                inr=Decimal(rng.choice(["2.1", "2.4", "2.7", "2.9"])),
                inr_date=start + dt.timedelta(days=i - i % 7),  # weekly INR test
                advised_by="R. Osei, anticoagulation clinic nurse",
                entered_by=entered_by,
                entered_at=now - dt.timedelta(days=HISTORY_DAYS - i + 1),
                checked_by=checked_by,
                checked_at=now - dt.timedelta(days=HISTORY_DAYS - i + 1) + dt.timedelta(hours=1),
                note="INR in range",
            )
            for i in range(HISTORY_DAYS)
            if start + dt.timedelta(days=i) not in existing
        )
    services.doses_sync(home=home, start=start, end=today + dt.timedelta(days=1), now=now)
    codes = {c.code: c for c in NonAdministrationCode.objects.filter(home=home)}
    givers, seniors = recorders(home, ctx)
    past = (
        ScheduledDose.objects.filter(
            home=home, cancelled_at__isnull=True, window_closes__lt=now, local_date__gte=start
        )
        .select_related("line", "line__medicine")
        .order_by("due_at")
    )
    sites: dict[int, int] = {}
    records: list[Administration] = []
    for dose in past:
        if dose.self_administered or dose.needs_dose_entry:
            continue
        line = dose.line
        roll = rng.random()
        by = rng.choice(givers)
        # Time-sensitive doses are given on time (R-RX-7); others within the round's window.
        spread = (-10, 12) if dose.time_sensitive else (-20, 35)
        at = dose.due_at + dt.timedelta(minutes=rng.randint(*spread))
        base = {
            "home": home,
            "resident_id": dose.resident_id,
            "line": line,
            "dose": dose,
            "recorded_by": by,
            "administered_at": at,
            "recorded_at": at + dt.timedelta(minutes=1),
        }
        if roll < GAP:
            continue  # nobody recorded it: a gap, shown as missed everywhere (R-MAR-2)
        roll -= GAP
        if roll < REFUSED:
            records.append(
                Administration(
                    **base, outcome="not_given", code=codes["R"], idempotency_key=uuid.uuid4()
                )
            )
            continue
        roll -= REFUSED
        if roll < OTHER_CODE:
            code = rng.choice(["N", "S", "W", "L"])
            if code == "S":
                records.append(
                    Administration(
                        **base,
                        outcome="not_given",
                        code=codes["S"],
                        final=False,
                        idempotency_key=uuid.uuid4(),
                    )
                )
                continue
            note = "GP asked to hold today: low blood pressure" if code == "W" else ""
            records.append(
                Administration(
                    **base,
                    outcome="not_given",
                    code=codes[code],
                    note=note,
                    idempotency_key=uuid.uuid4(),
                )
            )
            continue
        roll -= OTHER_CODE
        if roll < ASLEEP_THEN_GIVEN:
            records.append(
                Administration(
                    **base,
                    outcome="not_given",
                    code=codes["S"],
                    final=False,
                    idempotency_key=uuid.uuid4(),
                )
            )
            base["administered_at"] = at + dt.timedelta(minutes=40)
            base["recorded_at"] = at + dt.timedelta(minutes=41)
        late = roll < LATE + ASLEEP_THEN_GIVEN and rng.random() < 0.5
        if late:
            base["recorded_at"] = max(
                dose.window_closes + dt.timedelta(minutes=rng.randint(10, 90)),
                base["administered_at"] + dt.timedelta(minutes=1),
            )
        extra: dict = {}
        if line.needs_witness:
            extra["witness"] = rng.choice([s for s in seniors if s.pk != by.pk] or seniors)
            if extra["witness"].pk == by.pk:
                continue
        if services.needs_site(line):
            n = sites.get(line.pk, rng.randrange(len(BODY_SITES)))
            sites[line.pk] = n + 1
            extra["body_site"] = BODY_SITES[n % len(BODY_SITES)]
            extra["old_patch_removed"] = True if services.is_patch(line) else None
        quantity = dose.dose if dose.dose is not None else line.dose
        records.append(
            Administration(
                **base,
                **extra,
                outcome="given",
                quantity=quantity,
                covert=dose.covert,
                late=late,
                late_reason="Recorded after the round: the tablet was charging" if late else "",
                idempotency_key=uuid.uuid4(),
            )
        )
    Administration.objects.bulk_create(records, batch_size=1000)
    _prn_history(home, rng, givers, seniors, start, now)
    _one_correction(home, seniors)
    return len(records)


def _prn_history(home, rng, givers, seniors, start, now) -> None:
    for line in PrescriptionLine.objects.filter(home=home, status=LineStatus.ACTIVE, is_prn=True):
        if not line.protocols.exists():
            continue
        day = start + dt.timedelta(days=rng.randint(0, 3))
        while True:
            at = dt.datetime.combine(
                day, dt.time(rng.randint(9, 20), rng.choice([0, 15, 30, 45])), tzinfo=home.tz
            )
            if at > now - dt.timedelta(hours=2):
                break
            by = rng.choice(givers)
            extra = {}
            if line.needs_witness:
                extra["witness"] = next((s for s in seniors if s.pk != by.pk), None)
                if extra["witness"] is None:
                    break
            record = Administration.objects.create(
                home=home,
                resident=line.resident,
                line=line,
                outcome="given",
                quantity=line.dose,
                administered_at=at,
                recorded_at=at + dt.timedelta(minutes=2),
                recorded_by=by,
                prn_reason=rng.choice(
                    [
                        "Says her hip hurts",
                        "Grimacing when moved",
                        "Asked for something for pain",
                        "Restless and distressed after visitors left",
                    ]
                ),
                idempotency_key=uuid.uuid4(),
                **extra,
            )
            if rng.random() < 0.9:  # a few follow-ups missing: the audit shows them
                PrnFollowUp.objects.create(
                    administration=record,
                    effectiveness=rng.choice(
                        [Effectiveness.EFFECTIVE] * 4 + [Effectiveness.PARTLY]
                    ),
                    note="Settled and comfortable",
                    recorded_at=at + dt.timedelta(minutes=65),
                    recorded_by=by,
                )
            day += dt.timedelta(days=rng.randint(2, 6))


def _one_correction(home: CareHome, seniors: list[User]) -> None:
    """A refusal recorded by mistake and corrected the same day by a senior (R-MAR-4)."""
    original = (
        Administration.objects.filter(home=home, code__code="R", dose__isnull=False)
        .order_by("-administered_at")
        .first()
    )
    if original is None or not seniors:
        return
    Administration.objects.create(
        home=home,
        resident_id=original.resident_id,
        line_id=original.line_id,
        dose=original.dose,
        outcome="given",
        quantity=original.line.dose,
        administered_at=original.administered_at,
        recorded_at=original.recorded_at + dt.timedelta(minutes=30),
        recorded_by=seniors[0],
        corrects=original,
        correction_reason="Wrong button: she took it with her breakfast",
        idempotency_key=uuid.uuid4(),
    )


# The home's homely remedy list (R-MAR-11, NICE SC1): product, indication, dose, minimum
# interval, maximum in 24 hours, days before the GP must be asked.
HOMELY_LIST = (
    (
        "Paracetamol 500mg tablets",
        "Mild pain or fever",
        "1 to 2 tablets, at least 4 hours apart",
        (Decimal(1), Decimal(2), "tablet", 240, 4, 2),
    ),
    (
        "Senna 7.5mg tablets",
        "Constipation",
        "1 to 2 tablets at night",
        (Decimal(1), Decimal(2), "tablet", 1200, 1, 3),
    ),
)


def _homely_remedies(home: CareHome, ctx: DemoContext) -> None:
    remedies = {}
    for name, indication, guidance, limits in HOMELY_LIST:
        medicine = Medicine.objects.filter(name=name).first()
        if medicine is None:
            continue
        dose, dose_max, unit, interval, max_24h, max_days = limits
        remedy, _ = HomelyRemedy.objects.update_or_create(
            home=home,
            medicine=medicine,
            defaults={
                "indication": indication,
                "dose_guidance": guidance,
                "dose": dose,
                "dose_max": dose_max,
                "dose_unit": unit,
                "min_interval_minutes": interval,
                "max_doses_24h": max_24h,
                "max_days": max_days,
            },
        )
        remedies[name] = remedy
    # Harold (no known allergies) has his GP's authorisation for both (R-MAR-11).
    senior = ctx.users.get("senior")
    harold = Resident.objects.filter(home=home, nhs_number=demo_nhs_number(1)).first()
    if senior is None or harold is None or home != ctx.home:
        return
    today = home.local_today()
    for remedy in remedies.values():
        if HomelyRemedyAuthorisation.objects.filter(resident=harold, remedy=remedy).exists():
            continue
        services.homely_authorisation_record(
            resident=harold,
            remedy=remedy,
            by=senior,
            authorised_by_name="Dr A. Shah",
            authorised_by_role="gp",
            authorised_on=today - dt.timedelta(days=40),
            review_date=today + dt.timedelta(days=140),
            exclusions="Not if he has a temperature above 38 °C for more than a day: call the "
            "GP instead.",
        )
    # Demo history only: the authorisation predates the month, and paracetamol was given on
    # two days in a row last week (the most the list allows), so the MAR chart and the audit
    # show homely remedies.
    now = timezone.now()
    HomelyRemedyAuthorisation.objects.filter(resident=harold).update(
        recorded_at=now - dt.timedelta(days=40)
    )
    paracetamol = remedies.get("Paracetamol 500mg tablets")
    if paracetamol is None or HomelyRemedyDose.objects.filter(resident=harold).exists():
        return
    authorisation = HomelyRemedyAuthorisation.objects.filter(
        resident=harold, remedy=paracetamol
    ).first()
    for days_ago, hhmm in ((6, "10:15"), (6, "16:40"), (5, "11:05")):
        at = dt.datetime.combine(
            today - dt.timedelta(days=days_ago), dt.time.fromisoformat(hhmm), tzinfo=home.tz
        )
        HomelyRemedyDose.objects.create(
            home=home,
            resident=harold,
            remedy=paracetamol,
            authorisation=authorisation,
            quantity=Decimal(1),
            dose_unit="tablet(s)",
            reason="Headache after the dentist",
            administered_at=at,
            recorded_at=at + dt.timedelta(minutes=5),
            recorded_by=ctx.users.get("carer") or senior,
            idempotency_key=uuid.uuid4(),
        )


def _shifts(ctx: DemoContext) -> None:
    """The demo carer and senior are on shift, so reminders reach them (R-ALR-1)."""
    now = timezone.now()
    for username, unit in (("carer", ctx.units.get("Oak")), ("senior", None)):
        user = ctx.users.get(username)
        if user and not Shift.objects.filter(user=user, ended_at__isnull=True).exists():
            Shift.objects.create(user=user, home=ctx.home, unit=unit, started_at=now)


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    for home in (ctx.home, ctx.riverside):
        if home is None:
            continue
        _homely_remedies(home, ctx)
        if Administration.objects.filter(home=home).exists():
            continue
        count = _history(home, ctx, random.Random(f"emar-demo-{home.name}"))
        audit_append(
            home=home,
            actor=None,
            action="demo.history_loaded",
            after={"administrations": count, "days": HISTORY_DAYS},
        )
    _shifts(ctx)
