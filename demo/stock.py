"""Demo stock (R-RUN-4, R-STK-1..6, R-CD-1..3): stock carried forward at the start of the demo
history and a pharmacy receipt at the start of the current 28-day cycle for every line, the
administered movements of the six weeks of MAR history (so the balance equation holds for every
line), a witnessed CD stock check, and fridge and room temperature logs with one excursion.

Some lines are booked in short so that the reorder list has something on it. Written in bulk,
like the MAR history it follows; idempotent (a home with stock movements is skipped).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from emar.models import CareHome, User
from emar.services import audit_append
from medications.models import (
    Administration,
    LineStatus,
    LocationKind,
    MovementKind,
    PrescriptionLine,
    Stock,
    StockMovement,
    StorageLocation,
    TemperatureReading,
)
from medications.services import stock_check
from medications.services.stock import stock_effect

from .organisation import DemoContext
from .people import recorders
from .prescriptions import HISTORY_DAYS

PHARMACY = "Riverside Pharmacy, 12 Bridge Street"
CYCLE = 28


def _ceil(value: Decimal) -> Decimal:
    return Decimal(math.ceil(value))


def _events(home: CareHome) -> dict[int, list[tuple]]:
    """The stock effect of every MAR record, per line, in the order it was written:
    (recorded_at, kind, change, administration)."""
    records = (
        Administration.objects.filter(home=home)
        .select_related("code", "dose", "line", "corrects", "corrects__code")
        .order_by("recorded_at", "pk")
    )
    per_line: dict[int, list[tuple]] = {}
    for r in records:
        kind, change = stock_effect(r)
        if r.corrects_id:
            _, before = stock_effect(r.corrects)
            kind, change = MovementKind.ADJUSTED, change - before
        if kind is None or not change:
            continue
        per_line.setdefault(r.line_id, []).append((r.recorded_at, kind, change, r))
    return per_line


def _ledger(home: CareHome, ctx: DemoContext, rng: random.Random) -> int:
    today = home.local_today()
    start = dt.datetime.combine(
        today - dt.timedelta(days=HISTORY_DAYS + 1), dt.time(9, 0), tzinfo=home.tz
    )
    cycle = dt.datetime.combine(today - dt.timedelta(days=14), dt.time(10, 30), tzinfo=home.tz)
    givers, seniors = recorders(home, ctx)
    by = seniors[0]
    witness = next((p for p in seniors + givers if p.pk != by.pk), None)
    events = _events(home)
    lines = PrescriptionLine.objects.filter(home=home, status=LineStatus.ACTIVE).select_related(
        "medicine"
    )
    movements: list[StockMovement] = []
    stocks: list[Stock] = []
    for i, line in enumerate(lines.order_by("pk")):
        history = events.get(line.pk, [])
        used = -sum((c for _, k, c, _ in history if k != MovementKind.ADJUSTED), Decimal(0))
        per_day = used / HISTORY_DAYS if used else line.dose * 2
        short = i % 7 == 3  # booked in short: on the reorder list
        carried = _ceil(per_day * 31) + 2
        received = _ceil(per_day * (15 if short else 28))
        is_cd = line.medicine.cd_register
        plan = [
            (
                start,
                MovementKind.CARRIED_FORWARD,
                carried,
                None,
                {"reason": "Carried forward from the previous cycle"},
            ),
            (
                cycle,
                MovementKind.RECEIVED,
                received,
                None,
                {
                    "pharmacy": PHARMACY,
                    "batch": f"{rng.choice('ABCDEFGH')}{rng.randint(10000, 99999)}",
                    "expiry": today + dt.timedelta(days=rng.randint(200, 700)),
                },
            ),
            *[(at, kind, change, r, {}) for at, kind, change, r in history],
        ]
        plan.sort(key=lambda e: (e[0], e[3].pk if e[3] else 0))
        balance, seq = Decimal(0), 0
        for at, kind, change, record, extra in plan:
            seq += 1
            if record is not None:
                who, seen, when = record.recorded_by, record.witness, record.administered_at
                if kind == MovementKind.ADJUSTED:
                    extra = {"reason": f"MAR correction: {record.correction_reason}"}
                    when = record.recorded_at
            else:
                who, seen, when = by, (witness if is_cd else None), at
            movements.append(
                StockMovement(
                    home=home,
                    resident_id=line.resident_id,
                    line=line,
                    seq=seq,
                    kind=kind,
                    change=change,
                    balance_before=balance,
                    balance_after=balance + change,
                    at=when,
                    recorded_at=at,
                    by=who,
                    witness=seen,
                    administration=record,
                    **extra,
                )
            )
            balance += change
        stocks.append(
            Stock(line=line, home=home, resident_id=line.resident_id, balance=balance, seq=seq)
        )
    StockMovement.objects.bulk_create(movements, batch_size=1000)
    Stock.objects.bulk_create(stocks)
    _cd_check(home, by, witness)
    return len(movements)


def _cd_check(home: CareHome, by: User, witness: User | None) -> None:
    """A witnessed count of each CD that agrees with the register, made today (R-CD-3)."""
    if witness is None:
        return
    for stock in Stock.objects.filter(home=home, line__medicine__cd_register=True).select_related(
        "line", "line__home", "line__medicine", "line__resident"
    )[:3]:
        if stock.balance >= 0:
            stock_check(
                line=stock.line,
                by=by,
                counted=stock.balance,
                witness=witness,
                note="Weekly CD check",
            )


def _temperatures(home: CareHome, by: User, rng: random.Random) -> None:
    if StorageLocation.objects.filter(home=home).exists():
        return
    fridge = StorageLocation.objects.create(
        home=home, name="Treatment room fridge", kind=LocationKind.FRIDGE
    )
    room = StorageLocation.objects.create(home=home, name="Medicines room", kind=LocationKind.ROOM)
    today = home.local_today()
    excursion = today - dt.timedelta(days=9)
    readings = []
    for back in range(28, 0, -1):
        day = today - dt.timedelta(days=back)
        taken = dt.datetime.combine(day, dt.time(8, rng.randint(0, 40)), tzinfo=home.tz)
        current = Decimal(rng.choice(["4.1", "4.6", "5.0", "5.3", "3.9", "4.4"]))
        low, high = current - Decimal("0.8"), current + Decimal("1.2")
        action = ""
        if day == excursion:
            current, low, high = Decimal("9.4"), Decimal("4.2"), Decimal("11.6")
            action = (
                "Fridge door found ajar after the pharmacy delivery. Door closed, insulin and "
                "eye drops quarantined; pharmacist (Riverside Pharmacy) advised all stock is "
                "usable as the excursion was under 12 hours. Re-checked at 10:00: 5.1 °C."
            )
        readings.append(
            TemperatureReading(
                home=home,
                location=fridge,
                kind=fridge.kind,
                local_date=day,
                taken_at=taken,
                current=current,
                minimum=low,
                maximum=high,
                reset_confirmed=True,
                action_taken=action,
                by=by,
                recorded_at=taken,
            )
        )
        room_now = Decimal(rng.choice(["19.5", "20.0", "21.2", "22.4", "20.8"]))
        readings.append(
            TemperatureReading(
                home=home,
                location=room,
                kind=room.kind,
                local_date=day,
                taken_at=taken,
                current=room_now,
                minimum=room_now - Decimal(2),
                maximum=room_now + Decimal("1.5"),
                reset_confirmed=True,
                by=by,
                recorded_at=taken,
            )
        )
    TemperatureReading.objects.bulk_create(readings)


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    for home in (ctx.home, ctx.riverside):
        if home is None:
            continue
        rng = random.Random(f"emar-stock-{home.name}")
        _, seniors = recorders(home, ctx)
        if not StockMovement.objects.filter(home=home).exists():
            count = _ledger(home, ctx, rng)
            audit_append(
                home=home,
                actor=None,
                action="demo.stock_loaded",
                after={"movements": count, "at": timezone.now()},
            )
        _temperatures(home, seniors[0], rng)
