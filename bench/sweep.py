"""Benchmark: one due-dose reminder sweep (R-ALR-1, R-ALR-2) across many homes (SPEC §11).

Builds its own PostgreSQL database (default `emar_bench`, dropped afterwards unless --keep),
generates homes with bulk_create — units, staff on shift, residents, lines, today's doses and
`--history-days` of recorded past doses — and times `dose_reminders_sweep` at the start of the
08:00 round (07:01 GMT): the first sweep (every notification new), a repeat a minute later
(nothing new: the steady per-minute cost), and a quiet minute.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/sweep.py --homes 100 --history-days 28
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY = dt.date(2026, 11, 25)  # GMT, so local time = UTC
UTC = dt.UTC


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def _at(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=UTC)


def generate(homes: int, residents_per_unit: int, history_days: int) -> dict[str, int]:
    """Homes of two units with the staff on shift and a morning round's doses."""
    from emar.models import (
        CareHome,
        Membership,
        Provider,
        Role,
        Round,
        Shift,
        Unit,
        User,
    )
    from emar.services import DEFAULT_ROUNDS
    from medications.models import (
        Administration,
        LineStatus,
        Medicine,
        PrescriptionLine,
        ScheduledDose,
    )
    from residents.models import AllergyStatus, Resident

    batch = 5000
    provider = Provider.objects.create(name="Bench Provider")
    home_rows = CareHome.objects.bulk_create(
        CareHome(provider=provider, name=f"Bench Home {i:03d}") for i in range(homes)
    )
    Round.objects.bulk_create(
        Round(home=h, name=n, time=t) for h in home_rows for n, t in DEFAULT_ROUNDS
    )
    rounds = {(r.home_id, r.time): r for r in Round.objects.all()}
    units = Unit.objects.bulk_create(
        Unit(home=h, name=name) for h in home_rows for name in ("Oak", "Elm")
    )
    users = User.objects.bulk_create(
        User(username=f"h{h.pk}-{role}{n}", password="!", first_name=role.title())
        for h in home_rows
        for role, n in (("carer", 1), ("carer", 2), ("senior", 1), ("manager", 1))
    )
    by_home = {h.pk: users[i * 4 : i * 4 + 4] for i, h in enumerate(home_rows)}
    started = _at(DAY, "06:45")
    memberships, shifts = [], []
    for h in home_rows:
        carer1, carer2, senior, manager = by_home[h.pk]
        oak, elm = [u for u in units if u.home_id == h.pk]
        for user, role in ((carer1, Role.CARER), (carer2, Role.CARER)):
            memberships.append(Membership(user=user, home=h, role=role))
        memberships.append(Membership(user=senior, home=h, role=Role.SENIOR))
        memberships.append(Membership(user=manager, home=h, role=Role.MANAGER))
        shifts += [
            Shift(user=carer1, home=h, unit=oak, started_at=started),
            Shift(user=carer2, home=h, unit=elm, started_at=started),
            Shift(user=senior, home=h, unit=None, started_at=started),
        ]
    Membership.objects.bulk_create(memberships)
    Shift.objects.bulk_create(shifts)

    residents = Resident.objects.bulk_create(
        (
            Resident(
                home_id=u.home_id,
                unit=u,
                room=str(n + 1),
                full_name=f"Resident {u.pk}-{n}",
                date_of_birth=dt.date(1940, 1, 1),
                allergy_status=AllergyStatus.NONE_KNOWN,
                admitted_on=dt.date(2025, 1, 1),
            )
            for u in units
            for n in range(residents_per_unit)
        ),
        batch_size=batch,
    )
    medicine = Medicine.objects.order_by("pk").first()
    start = DAY - dt.timedelta(days=history_days + 7)
    checked = _at(start, "09:00")

    def line(resident, entered_by, checker, *, time_sensitive=False):
        return PrescriptionLine(
            home_id=resident.home_id,
            resident=resident,
            medicine=medicine,
            dose=Decimal(1),
            dose_unit="tablet",
            route="oral",
            start_date=start,
            prescriber="Dr Bench",
            source="gp",
            time_sensitive=time_sensitive,
            tolerance_minutes=15,
            status=LineStatus.ACTIVE,
            entered_by=entered_by,
            entered_at=checked,
            checked_by=checker,
            checked_at=checked,
        )

    # Each resident: 08:00 and 20:00; every third also 06:00; every tenth a time-sensitive
    # 07:10 (R-RX-7).
    plan: list[tuple[PrescriptionLine, tuple[str, ...]]] = []
    for i, r in enumerate(residents):
        _, _, senior, manager = by_home[r.home_id]
        plan.append((line(r, senior, manager), ("08:00", "20:00")))
        if i % 3 == 0:
            plan.append((line(r, senior, manager), ("06:00",)))
        if i % 10 == 0:
            plan.append((line(r, senior, manager, time_sensitive=True), ("07:10",)))
    PrescriptionLine.objects.bulk_create([p[0] for p in plan], batch_size=batch)

    home_window = dt.timedelta(minutes=60)
    ts_window = dt.timedelta(minutes=15)

    def doses_of(day: dt.date):
        for ln, times in plan:
            tolerance = ts_window if ln.time_sensitive else home_window
            for hhmm in times:
                due = _at(day, hhmm)
                local = dt.time.fromisoformat(hhmm)
                nearest = min(
                    DEFAULT_ROUNDS,
                    key=lambda r: abs(
                        r[1].hour * 60 + r[1].minute - local.hour * 60 - local.minute
                    ),
                )
                yield ScheduledDose(
                    home_id=ln.home_id,
                    unit_id=ln.resident.unit_id,
                    resident_id=ln.resident_id,
                    line=ln,
                    due_at=due,
                    window_opens=due - tolerance,
                    window_closes=due + tolerance,
                    local_date=day,
                    local_time=local,
                    round=rounds[(ln.home_id, nearest[1])],
                    dose=Decimal(1),
                    dose_text="1 tablet",
                    time_sensitive=ln.time_sensitive,
                )

    recorder = {h: by_home[h][0] for h in by_home}
    history = 0
    for back in range(history_days, 0, -1):
        day = DAY - dt.timedelta(days=back)
        past = ScheduledDose.objects.bulk_create(doses_of(day), batch_size=batch)
        Administration.objects.bulk_create(
            (
                Administration(
                    home_id=d.home_id,
                    resident_id=d.resident_id,
                    line=d.line,
                    dose=d,
                    outcome="given",
                    quantity=Decimal(1),
                    administered_at=d.due_at,
                    recorded_at=d.due_at,
                    recorded_by=recorder[d.home_id],
                    idempotency_key=uuid.uuid4(),
                )
                for d in past
            ),
            batch_size=batch,
        )
        history += len(past)
    today = ScheduledDose.objects.bulk_create(doses_of(DAY), batch_size=batch)
    # Half of the 06:00 doses were given; the rest are the gaps that escalate at 07:00.
    early = [d for d in today if d.local_time == dt.time(6)]
    Administration.objects.bulk_create(
        (
            Administration(
                home_id=d.home_id,
                resident_id=d.resident_id,
                line=d.line,
                dose=d,
                outcome="given",
                quantity=Decimal(1),
                administered_at=d.due_at,
                recorded_at=d.due_at,
                recorded_by=recorder[d.home_id],
                idempotency_key=uuid.uuid4(),
            )
            for d in early[::2]
        ),
        batch_size=batch,
    )
    return {
        "homes": homes,
        "residents": len(residents),
        "lines": len(plan),
        "doses today": len(today),
        "history doses (recorded)": history,
    }


def measure(runs: int) -> list[tuple[str, float, float, int, int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from emar.models import Notification
    from medications.reminders import dose_reminders_sweep

    def once(now: dt.datetime) -> tuple[float, int, int, int]:
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            result = dose_reminders_sweep(now=now)
            elapsed = time.perf_counter() - t0
        new = result.round_open + result.time_sensitive + result.missed
        return elapsed * 1000, len(ctx.captured_queries), result.doses, new

    rows = []
    for label, now, reset in (
        ("round opens (all new)", _at(DAY, "07:01"), True),
        ("a minute later (nothing new)", _at(DAY, "07:02"), False),
        ("quiet minute (08:00)", _at(DAY, "08:00"), False),
    ):
        timings, queries, doses, new = [], 0, 0, 0
        for _ in range(runs):
            if reset:
                Notification.objects.all().delete()
            ms, queries, doses, n = once(now)
            timings.append(ms)
            new = max(new, n)
        rows.append((label, statistics.median(timings), max(timings), queries, doses, new))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--homes", type=int, default=100)
    parser.add_argument("--residents-per-unit", type=int, default=30)
    parser.add_argument("--history-days", type=int, default=28)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default="emar_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database kept by an earlier --keep run"
    )
    parser.add_argument("--explain", action="store_true", help="print the dose query plan")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://... (the benchmark creates its own database).")
    if not args.reuse:
        _admin(base, f'DROP DATABASE IF EXISTS "{args.db}"')
        _admin(base, f'CREATE DATABASE "{args.db}"')
    os.environ["DATABASE_URL"] = _with_db(base, args.db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emar.settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        if not args.reuse:
            t0 = time.perf_counter()
            call_command("migrate", verbosity=0)
            sizes = generate(args.homes, args.residents_per_unit, args.history_days)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(f"data generated in {time.perf_counter() - t0:.1f} s: {sizes}")

        if args.explain:
            from medications.reminders import doses_to_remind

            print(doses_to_remind(now=_at(DAY, "07:01")).explain(analyze=True))

        print(
            f"\n{'sweep':32} {'median ms':>10} {'max ms':>8} {'queries':>8} {'doses':>6} {'new':>6}"
        )
        for label, median, worst, queries, doses, new in measure(args.runs):
            print(f"{label:32} {median:10.1f} {worst:8.1f} {queries:8d} {doses:6d} {new:6d}")
    finally:
        from django.db import connections

        connections.close_all()
        if not (args.keep or args.reuse):
            _admin(base, f'DROP DATABASE IF EXISTS "{args.db}"')


if __name__ == "__main__":
    main()
