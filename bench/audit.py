"""Benchmark: the monthly audit of a 60-bed home (SPEC §11: metrics in about a second, the PDF
in a few seconds).

Creates a throwaway test database (SQLite in memory by default; PostgreSQL `test_<name>` when
DATABASE_URL points at one), generates with bulk_create one home of `--beds` residents, each with
five regular lines (11 doses a day) and a PRN line, and a month of MAR records (given, refusals,
other codes, gaps, late entries, PRN with follow-ups, CDs with a witness); then times the
metrics (`audits.metrics.compute`), `audit_prepare` and the PDF report.

    .venv/bin/python bench/audit.py --beds 60
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/root .venv/bin/python bench/audit.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MONTH = dt.date(2026, 10, 1)  # a 31-day month with the BST change (25 Oct)


def generate(beds: int) -> tuple[object, dict[str, int]]:
    from audits.models import next_month
    from emar.models import CareHome, Membership, NonAdministrationCode, Provider, Role, User
    from emar.services import home_create, unit_create
    from medications.models import (
        Administration,
        LineStatus,
        Medicine,
        PrescriptionLine,
        PrnFollowUp,
        ScheduledDose,
    )
    from residents.models import AllergyStatus, Resident

    rng = random.Random(8)
    home = home_create(provider=Provider.objects.create(name="Bench"), name="Bench Home")
    home = CareHome.objects.get(pk=home.pk)
    units = [unit_create(home=home, name=n) for n in ("Oak", "Elm", "Ash")]
    staff = User.objects.bulk_create(
        User(username=f"bench{i}", password="!", first_name=f"Staff{i}") for i in range(12)
    )
    Membership.objects.bulk_create(
        Membership(user=u, home=home, role=Role.SENIOR if i < 4 else Role.CARER)
        for i, u in enumerate(staff)
    )
    residents = Resident.objects.bulk_create(
        Resident(
            home=home,
            unit=units[i % 3],
            room=str(i + 1),
            full_name=f"Resident {i:02d}",
            date_of_birth=dt.date(1940, 1, 1),
            allergy_status=AllergyStatus.NONE_KNOWN,
            admitted_on=dt.date(2025, 1, 1),
        )
        for i in range(beds)
    )
    medicines = list(Medicine.objects.filter(cd_register=False).order_by("pk")[:6])
    cd = Medicine.objects.filter(cd_register=True).order_by("pk").first()
    # per resident: (medicine, times a day, prn)
    plan = [
        (medicines[0], ("08:00", "12:00", "17:00", "22:00"), False),
        (medicines[1], ("08:00", "12:00", "17:00", "22:00"), False),
        (medicines[2], ("08:00", "22:00"), False),
        (medicines[3], ("08:00",), False),
        (cd or medicines[4], ("08:00",), False),
        (medicines[5], (), True),
    ]
    checked_at = dt.datetime(2026, 9, 1, 9, tzinfo=dt.UTC)
    lines = PrescriptionLine.objects.bulk_create(
        PrescriptionLine(
            home=home,
            resident=r,
            medicine=med,
            dose=Decimal(1),
            dose_unit="tablet",
            route="oral",
            is_prn=prn,
            start_date=dt.date(2026, 9, 1),
            prescriber="Dr Bench",
            source="gp",
            status=LineStatus.ACTIVE,
            entered_by=staff[0],
            entered_at=checked_at,
            checked_by=staff[1],
            checked_at=checked_at,
        )
        for r in residents
        for med, _times, prn in plan
    )
    tz = home.tz
    window = dt.timedelta(minutes=home.dose_window_minutes)
    doses = []
    day = MONTH
    while day < next_month(MONTH):
        for i, ln in enumerate(lines):
            for hhmm in plan[i % len(plan)][1]:
                due = dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=tz)
                doses.append(
                    ScheduledDose(
                        home=home,
                        unit_id=ln.resident.unit_id,
                        resident_id=ln.resident_id,
                        line=ln,
                        due_at=due,
                        window_opens=due - window,
                        window_closes=due + window,
                        local_date=day,
                        local_time=dt.time.fromisoformat(hhmm),
                        dose=Decimal(1),
                        dose_text="1 tablet",
                    )
                )
        day += dt.timedelta(days=1)
    doses = ScheduledDose.objects.bulk_create(doses, batch_size=5000)
    codes = {c.code: c for c in NonAdministrationCode.objects.filter(home=home)}
    cd_lines = {ln.pk for ln in lines if ln.medicine.cd_register}
    records = []
    for d in doses:
        roll = rng.random()
        if roll < 0.006:
            continue  # a gap
        at = d.due_at + dt.timedelta(minutes=rng.randint(-20, 40))
        late = roll > 0.988
        not_given = 0.006 <= roll < 0.05
        giver = staff[4 + rng.randrange(8)]
        records.append(
            Administration(
                home=home,
                resident_id=d.resident_id,
                line_id=d.line_id,
                dose=d,
                outcome="not_given" if not_given else "given",
                code=codes[rng.choice("RRRNHW")] if not_given else None,
                quantity=None if not_given else Decimal(1),
                administered_at=at,
                recorded_at=d.window_closes + dt.timedelta(minutes=30) if late else at,
                recorded_by=giver,
                witness=staff[0] if d.line_id in cd_lines and not not_given else None,
                late=late,
                late_reason="Busy" if late else "",
                idempotency_key=uuid.uuid4(),
            )
        )
    prn_lines = [ln for ln in lines if ln.is_prn]
    for n in range(beds * 20):
        ln = prn_lines[n % len(prn_lines)]
        at = dt.datetime.combine(
            MONTH + dt.timedelta(days=rng.randrange(31)), dt.time(rng.randrange(24), 5), tzinfo=tz
        )
        records.append(
            Administration(
                home=home,
                resident_id=ln.resident_id,
                line=ln,
                outcome="given",
                quantity=Decimal(1),
                administered_at=at,
                recorded_at=at,
                recorded_by=staff[5],
                prn_reason="Pain",
                idempotency_key=uuid.uuid4(),
            )
        )
    records = Administration.objects.bulk_create(records, batch_size=5000)
    PrnFollowUp.objects.bulk_create(
        PrnFollowUp(administration=r, effectiveness="effective", recorded_by=staff[5])
        for r in records
        if r.dose_id is None and rng.random() < 0.9
    )
    return home, {"residents": beds, "doses": len(doses), "records": len(records)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beds", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emar.settings")
    os.environ.setdefault("MEDIA_ROOT", "/tmp/emar-bench-media")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    old = setup_databases(verbosity=0, interactive=False)
    try:
        from audits import metrics, reports, services

        t0 = time.perf_counter()
        home, sizes = generate(args.beds)
        print(f"{connection.vendor}: generated {sizes} in {time.perf_counter() - t0:.1f} s")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # as autovacuum would after a month of writes
        if os.environ.get("BENCH_PROFILE"):
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as ctx:
                metrics.compute(home, MONTH)
            for q in sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:3]:
                print(f"  {q['time']} s  {q['sql'][:300]}")
        now = dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC)
        timings = []
        for _ in range(args.runs):
            t = time.perf_counter()
            result = metrics.compute(home, MONTH, now=now)
            timings.append(time.perf_counter() - t)
        d = result["doses"]
        print(
            f"metrics ({d['to_give']} doses to give, {d['gaps']} gaps, "
            f"{result['prn']['doses']} PRN): median {statistics.median(timings) * 1000:.0f} ms, "
            f"min {min(timings) * 1000:.0f} ms over {args.runs} runs"
        )
        t = time.perf_counter()
        audit = services.audit_prepare(home=home, month=MONTH)
        print(f"audit_prepare (metrics + save): {(time.perf_counter() - t) * 1000:.0f} ms")
        pdf_times = []
        for _ in range(3):
            t = time.perf_counter()
            pdf = reports.report_pdf(audit)
            pdf_times.append(time.perf_counter() - t)
        print(
            f"PDF report ({len(pdf):,} bytes): median {statistics.median(pdf_times):.2f} s "
            f"over 3 runs"
        )
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
