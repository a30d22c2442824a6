"""`manage.py bench_generate`: a large data set for the scale benchmark (SPEC §11, its last
line): `--homes` homes of `--residents` residents (units of 30) with `--days` days of
recorded history, on PostgreSQL.

Each home is set up through the ORM (the home with its rounds and codes, units, a manager, a
senior and a carer per unit with training, competencies and a shift, residents, four lines
each: 08:00, 08:00+20:00, four rounds, 22:00 — eight doses a day — and stock carried
forward), today's doses come from the real `doses_sync`, and the history is then written by
PostgreSQL itself in two set-based statements per home (`INSERT ... SELECT` over
`generate_series`, faster than COPY from Python because no row crosses the wire): every day's
doses from today's, re-timed in the home's time zone, and one record for every dose whose
window has closed (every 25th not given, code R; the rest given by the unit's carer 7 minutes
after the due time). 100 x 60 x 365 is about 17.5 million doses and as many records.

What is skipped, and what `verify_audit_trail` says of it: the history has no audit-chain
links and no stock movements per record. Each home's chain holds only the links of its setup
(and of whatever is recorded afterwards through the service), so every chain verifies; the
verifier judges a record without a link only when it is newer than the home's first digested
record, and every generated record is older than any recorded later, so none is reported —
the same view it takes of records written before digests existed. Stock balances are the
carried-forward figure, not the history's running total.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils import timezone

UNIT_SIZE = 30
SLOTS = [["08:00"], ["08:00", "20:00"], ["08:00", "12:00", "17:00", "22:00"], ["22:00"]]
PASSWORD = "bench-password-1"


class Command(BaseCommand):
    help = "Generate homes, residents, lines and a history of doses and records (benchmarks)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--homes", type=int, default=100)
        parser.add_argument("--residents", type=int, default=60, help="per home, units of 30")
        parser.add_argument("--days", type=int, default=365, help="days of recorded history")
        parser.add_argument("--prefix", default="scale", help="usernames and home names")

    def handle(self, *args, **opts) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_generate needs PostgreSQL (DATABASE_URL=postgres://...).")
        if opts["homes"] < 1 or opts["residents"] < 1 or opts["days"] < 0:
            raise CommandError("--homes and --residents must be at least 1, --days at least 0.")
        started = time.perf_counter()
        password = make_password(PASSWORD)
        total_doses = total_records = 0
        for n in range(opts["homes"]):
            t = time.perf_counter()
            with transaction.atomic():
                home, carers = home_setup(
                    n, opts["residents"], opts["days"], opts["prefix"], password
                )
            with transaction.atomic():
                doses, records = history(home, carers, opts["days"])
            total_doses += doses
            total_records += records
            self.stdout.write(
                f"home {n + 1}/{opts['homes']} ({home.name}): {doses:,} doses, "
                f"{records:,} records in {time.perf_counter() - t:.1f} s"
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(
            f"{opts['homes']} homes, {total_doses:,} doses, {total_records:,} records in "
            f"{time.perf_counter() - started:.0f} s (ANALYZE done)"
        )


def home_setup(n: int, residents: int, days: int, prefix: str, password: str):
    """One home through the ORM, with today's doses from `doses_sync`. Returns the home and
    {unit id: its carer's id}."""
    from emar import services as core
    from emar.models import Membership, Provider, Role, Shift, Unit, User
    from medications import services
    from medications.models import (
        Medicine,
    )
    from residents.models import AllergyStatus, Resident
    from training.bulk import staff_qualified_bulk

    now = timezone.now()
    provider, _ = Provider.objects.get_or_create(name=f"{prefix.title()} Group")
    home = core.home_create(provider=provider, name=f"{prefix.title()} Home {n + 1:03d}")
    today = now.astimezone(home.tz).date()
    began = now - dt.timedelta(days=days + 2)
    units = [
        Unit.objects.create(home=home, name=f"Unit {u + 1}")
        for u in range((residents + UNIT_SIZE - 1) // UNIT_SIZE)
    ]
    tag = f"{prefix}{n + 1:03d}"
    manager = User.objects.create(username=f"{tag}_manager", password=password)
    senior = User.objects.create(username=f"{tag}_senior", password=password)
    carers = [
        User.objects.create(username=f"{tag}_carer{u + 1}", password=password)
        for u in range(len(units))
    ]
    Membership.objects.bulk_create(
        [
            Membership(user=manager, home=home, role=Role.MANAGER),
            Membership(user=senior, home=home, role=Role.SENIOR),
        ]
        + [Membership(user=c, home=home, role=Role.CARER) for c in carers]
    )
    staff = [senior, *carers]
    staff_qualified_bulk(
        home=home, people=staff, by=manager, done=today - dt.timedelta(days=30), now=now
    )
    on_shift = now - dt.timedelta(hours=2)
    Shift.objects.bulk_create(
        [
            Shift(user=c, home=home, unit=u, started_at=on_shift)
            for c, u in zip(carers, units, strict=True)
        ]
        + [Shift(user=senior, home=home, unit=None, started_at=on_shift)]
    )
    people = Resident.objects.bulk_create(
        Resident(
            home=home,
            unit=units[i // UNIT_SIZE],
            room=str(i + 1),
            full_name=f"Resident {n + 1}-{i + 1}",
            date_of_birth=dt.date(1935 + i % 20, 1 + i % 12, 1 + i % 28),
            nhs_number=f"{(n + 1) % 10000:04d}{i:06d}",
            allergy_status=AllergyStatus.NONE_KNOWN,
            admitted_on=today - dt.timedelta(days=days + 30),
        )
        for i in range(residents)
    )
    medicines = list(
        Medicine.objects.filter(form__icontains="tablet", cd_register=False, active=True).order_by(
            "pk"
        )[:8]
    )
    if not medicines:
        raise CommandError("No tablet medicines in the catalogue (run migrate first).")
    checked_lines(
        home=home,
        people=people,
        medicines=medicines,
        slots=SLOTS,
        began=began,
        entered_by=senior,
        checked_by=carers[0],
    )
    services.doses_sync(home=home, start=today, end=today, now=began)
    return home, {u.pk: c.pk for u, c in zip(units, carers, strict=True)}


def checked_lines(
    *,
    home,
    people,
    medicines,
    slots: list[list[str]],
    began: dt.datetime,
    entered_by,
    checked_by,
    per_resident: int | None = None,
    stock: Decimal = Decimal(500),
) -> list:
    """Benchmark lines, written in bulk: for each person `per_resident` (default one per slot
    list) live, checked oral tablet lines from `began`, the medicines and slot lists taken in
    turn, one schedule version each, and `stock` carried forward on each (its stock row and
    movement, as a home starting on eMAR books in, R-STK-1). Generated data, never a real home:
    no audit trail. Shared by this command and `bench/round.py`, `bench/scale.py`."""
    from medications.models import (
        LineStatus,
        PrescriptionLine,
        ScheduleVersion,
        Stock,
        StockMovement,
    )

    per = per_resident or len(slots)
    lines = PrescriptionLine.objects.bulk_create(
        PrescriptionLine(
            home=home,
            resident=p,
            medicine=medicines[(i + j) % len(medicines)],
            dose=Decimal(1),
            dose_unit="tablet",
            route="oral",
            start_date=began.astimezone(home.tz).date(),
            prescriber="Dr Bench",
            source="gp",
            status=LineStatus.ACTIVE,
            entered_by=entered_by,
            entered_at=began,
            checked_by=checked_by,
            checked_at=began,
        )
        for i, p in enumerate(people)
        for j in range(per)
    )
    ScheduleVersion.objects.bulk_create(
        ScheduleVersion(
            line=ln,
            requested_from=began,
            effective_from=began,
            slots=[{"time": t, "round": None, "label": ""} for t in slots[k % len(slots)]],
            created_by=entered_by,
            created_at=began,
            checked_by=checked_by,
            checked_at=began,
        )
        for k, ln in enumerate(lines)
    )
    Stock.objects.bulk_create(
        Stock(line=ln, home=home, resident_id=ln.resident_id, balance=stock, seq=1) for ln in lines
    )
    StockMovement.objects.bulk_create(
        StockMovement(
            home=home,
            resident_id=ln.resident_id,
            line=ln,
            seq=1,
            kind="carried_forward",
            change=stock,
            balance_before=Decimal(0),
            balance_after=stock,
            at=began,
            by=entered_by,
            reason="Carried forward",
        )
        for ln in lines
    )
    return lines


def _defaults(model: type[models.Model], given: dict[str, str]) -> tuple[list[str], list, list]:
    """Columns, SQL expressions and parameters for an INSERT ... SELECT into `model`: the
    columns in `given` take its expression, every other column its field's default (so a
    field added later still gets a value)."""
    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in given:
            exprs.append(given[field.column])
            continue
        value = field.get_default() if field.has_default() else None
        if value is None and not field.null:
            value = "" if isinstance(field, models.CharField | models.TextField) else value
        exprs.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    return columns, exprs, params


def history(home, carers: dict[int, int], days: int) -> tuple[int, int]:
    """`days` days of doses before today, copied from today's, and a record for every dose
    whose window has closed (all in PostgreSQL). Returns (doses, records) written."""
    from emar.models import CodeCategory, NonAdministrationCode
    from medications.models import Administration, ScheduledDose

    dose_table = ScheduledDose._meta.db_table
    due = "(((t.local_date - g.k) + t.local_time) AT TIME ZONE %s)"
    copied = {
        "due_at": due,
        "window_opens": f"{due} + (t.window_opens - t.due_at)",
        "window_closes": f"{due} + (t.window_closes - t.due_at)",
        "local_date": "t.local_date - g.k",
        "round_date": "t.round_date - g.k",
        "created_at": f"{due} - interval '1 day'",
    }
    columns, exprs, params = [], [], []
    for field in ScheduledDose._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in copied:
            expr = copied[field.column]
            exprs.append(expr)
            params.extend([home.timezone] * expr.count("%s"))
        else:
            exprs.append(f"t.{connection.ops.quote_name(field.column)}")
    now = timezone.now()
    today = now.astimezone(home.tz).date()
    with connection.cursor() as cursor:
        cursor.execute(  # names from the models; every value is a parameter
            f"INSERT INTO {dose_table} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(exprs)} FROM {dose_table} t "
            "CROSS JOIN generate_series(1, %s) AS g(k) "
            "WHERE t.home_id = %s AND t.local_date = %s AND t.cancelled_at IS NULL "
            "ON CONFLICT DO NOTHING",
            [*params, days, home.pk, today],
        )
        doses = cursor.rowcount
        # Statistics for the new rows, or the planner may loop over them (table thought empty)
        cursor.execute(f"ANALYZE {dose_table}")
        refused = NonAdministrationCode.objects.get(
            home=home, code="R", category=CodeCategory.REFUSED
        )
        carer_of = " ".join(f"WHEN {unit} THEN {user}" for unit, user in carers.items())
        not_given = "d.id %% 25 = 0"
        cols, values, defaults = _defaults(
            Administration,
            {
                "home_id": "d.home_id",
                "resident_id": "d.resident_id",
                "line_id": "d.line_id",
                "dose_id": "d.id",
                "outcome": f"CASE WHEN {not_given} THEN 'not_given' ELSE 'given' END",
                "code_id": f"CASE WHEN {not_given} THEN {refused.pk} END",
                "quantity": f"CASE WHEN {not_given} THEN NULL ELSE COALESCE(d.dose, 1) END",
                "administered_at": "d.due_at + interval '7 minutes'",
                "recorded_at": "d.due_at + interval '8 minutes'",
                "recorded_by_id": f"CASE d.unit_id {carer_of} END",
                "final": "true",
                "idempotency_key": "gen_random_uuid()",
            },
        )
        records_table = Administration._meta.db_table
        cursor.execute(  # names from the models; every value is a parameter
            f"INSERT INTO {records_table} ({', '.join(cols)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {dose_table} d "
            # the home is new: none of its doses has a record yet
            "WHERE d.home_id = %s AND d.window_closes < %s AND d.cancelled_at IS NULL",
            [*defaults, home.pk, now],
        )
        records = cursor.rowcount
    return doses, records


__all__ = ["Command", "history", "home_setup"]
