"""Benchmark: the round screen and recording doses over HTTP (SPEC §11, R-MAR-1, R-MAR-5).

Builds its own PostgreSQL database (default `emar_bench_round`, dropped afterwards unless
--keep) with one home: a 30-resident unit ("Oak": 8 regular lines each at 08:00/12:00/17:00/
22:00 mixes, six weeks of recorded history) and a large unit ("Bench") whose doses are due now,
for the recording test. Then:

1. the round screen for Oak at the current round, through Django's full request stack
   (in-process test client): query count and latency;
2. recording over HTTP: gunicorn (4 workers x 4 threads) on 127.0.0.1, N client threads each
   signed in as a different carer, each POSTing one dose record per open dose it owns, and
   re-sending every 5th request with the same idempotency key (a double tap): requests/s,
   p50/p99 latency, and a check that every dose has exactly one record.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/round.py --doses 3000 --clients 8
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-password-1"
PORT = 8791


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def generate(
    recording_doses: int,
    clients: int,
    history_days: int,
    *,
    prefix: str = "bench",
    unit_size: int | None = None,
) -> dict:
    """One home; its open doses are in one "Bench" unit, or in units of `unit_size` residents
    ("Bench 1", "Bench 2"...) so that a round page of one of them is a realistic size."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from emar import services as core
    from emar.management.commands.bench_generate import checked_lines
    from emar.models import Membership, Provider, Role, Unit, User
    from medications import services
    from medications.models import (
        Administration,
        Medicine,
        ScheduledDose,
    )
    from residents.models import AllergyStatus, Resident
    from training.bulk import staff_qualified_bulk

    now = timezone.now()
    provider = Provider.objects.create(name=f"{prefix.title()} Group")
    home = core.home_create(provider=provider, name=f"{prefix.title()} Home")
    tz = home.tz
    today = now.astimezone(tz).date()
    oak = Unit.objects.create(home=home, name="Oak")
    password = make_password(PASSWORD)
    senior = User.objects.create(username=f"{prefix}_senior", password=password)
    carers = [
        User.objects.create(username=f"{prefix}_carer{i}", password=password)
        for i in range(clients)
    ]
    Membership.objects.bulk_create(
        [Membership(user=senior, home=home, role=Role.SENIOR)]
        + [Membership(user=c, home=home, role=Role.CARER) for c in carers]
    )
    staff_qualified_bulk(
        home=home, people=carers, by=senior, done=today - dt.timedelta(days=30), now=now
    )
    medicines = list(
        Medicine.objects.filter(form__icontains="tablet", cd_register=False, active=True)[:8]
    )
    began = now - dt.timedelta(days=history_days + 1)

    def residents(unit: Unit, n: int) -> list[Resident]:
        return Resident.objects.bulk_create(
            Resident(
                home=home,
                unit=unit,
                room=str(i + 1),
                full_name=f"Resident {unit.name} {i}",
                date_of_birth=dt.date(1940, 1, 1),
                nhs_number=f"{unit.pk:04d}{i:06d}",
                allergy_status=AllergyStatus.NONE_KNOWN,
                admitted_on=today - dt.timedelta(days=400),
            )
            for i in range(n)
        )

    def lines(people, per_resident: int, slots: list[list[str]]) -> None:
        checked_lines(
            home=home,
            people=people,
            medicines=medicines,
            slots=slots,
            began=began,
            entered_by=senior,
            checked_by=carers[0],
            per_resident=per_resident,
        )

    oak_people = residents(oak, 30)
    lines(
        oak_people,
        8,
        [["08:00"], ["08:00", "20:00"], ["08:00", "12:00", "17:00", "22:00"], ["22:00"]],
    )
    local_now = now.astimezone(tz)
    slot = f"{local_now:%H}:{local_now.minute // 5 * 5:02d}"
    per_resident = 4
    wanted = max(1, recording_doses // per_resident)
    size = unit_size or wanted
    bench_units = [
        Unit.objects.create(home=home, name="Bench" if size >= wanted else f"Bench {n + 1}")
        for n in range((wanted + size - 1) // size)
    ]
    bench_people = [
        p
        for n, unit in enumerate(bench_units)
        for p in residents(unit, min(size, wanted - n * size))
    ]
    lines(bench_people, per_resident, [[slot]])
    start = today - dt.timedelta(days=history_days)
    services.doses_sync(home=home, start=start, end=today, now=now - dt.timedelta(days=400))
    past = ScheduledDose.objects.filter(unit=oak, window_closes__lt=now)
    Administration.objects.bulk_create(
        (
            Administration(
                home=home,
                resident_id=d.resident_id,
                line_id=d.line_id,
                dose=d,
                outcome="given",
                quantity=Decimal(1),
                administered_at=d.due_at,
                recorded_at=d.due_at,
                recorded_by=carers[0],
                idempotency_key=uuid.uuid4(),
            )
            for d in past.iterator()
        ),
        batch_size=2000,
    )
    open_doses = list(
        ScheduledDose.objects.filter(unit__in=bench_units, local_date=today)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return {
        "home": home.pk,
        "oak": oak.pk,
        "carers": [c.username for c in carers],
        "open_doses": open_doses,
        "dose_units": dict(
            ScheduledDose.objects.filter(pk__in=open_doses).values_list("pk", "unit_id")
        ),
        "history_records": Administration.objects.count(),
    }


def bench_round(data: dict, repeats: int) -> dict:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from emar.models import User

    client = Client()
    client.force_login(User.objects.get(username=data["carers"][0]))
    url = f"/homes/{data['home']}/round/?unit={data['oak']}&round=all"
    client.get(url)
    times = []
    for _ in range(repeats):
        reset_queries()
        t = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.status_code
    rows = response.content.decode().count('class="dose-row')
    return {
        "queries": len(ctx),
        "dose_rows": rows,
        "p50_ms": statistics.median(times),
        "max_ms": max(times),
    }


def _login(username: str) -> tuple[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    conn.request("GET", "/login/")
    r = conn.getresponse()
    body = r.read().decode()
    csrf_cookie = re.search(r"csrftoken=([^;]+)", r.getheader("Set-Cookie")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    conn.request(
        "POST",
        "/login/",
        urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}),
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf_cookie}"},
    )
    r = conn.getresponse()
    r.read()
    cookies = "; ".join(c.split(";")[0] for c in r.msg.get_all("Set-Cookie"))
    session = re.search(r"sessionid=([^;]+)", cookies).group(1)
    csrf = re.search(r"csrftoken=([^;]+)", cookies)
    return session, (csrf.group(1) if csrf else csrf_cookie)


def bench_recording(data: dict, clients: int) -> dict:
    doses = data["open_doses"]
    shares = [doses[i::clients] for i in range(clients)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker(username: str, mine: list[int]) -> None:
        session, csrf = _login(username)
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"sessionid={session}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "HX-Request": "true",
        }
        for n, dose in enumerate(mine):
            body = urlencode({"idempotency_key": str(uuid.uuid4()), "outcome": "given"})
            for _ in range(2 if n % 5 == 0 else 1):  # every 5th is sent twice: a double tap
                t = time.perf_counter()
                conn.request("POST", f"/doses/{dose}/record/", body, headers)
                r = conn.getresponse()
                r.read()
                elapsed = (time.perf_counter() - t) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[r.status] = statuses.get(r.status, 0) + 1

    threads = [
        threading.Thread(target=worker, args=(u, s))
        for u, s in zip(data["carers"], shares, strict=True)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": wall,
        "per_second": len(latencies) / wall,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--doses", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--history-days", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--db", default="emar_bench_round")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--skip-http", action="store_true", help="only generate and time the round")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL server (the benchmark creates its own database)."
        )
    _admin(base, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    _admin(base, f'CREATE DATABASE "{args.db}"')
    bench_url = _with_db(base, args.db)
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emar.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False
    server = None
    try:
        call_command("migrate", verbosity=0)
        t = time.perf_counter()
        data = generate(args.doses, args.clients, args.history_days)
        print(
            f"generated in {time.perf_counter() - t:.1f}s: {data['history_records']} history "
            f"records, {len(data['open_doses'])} open doses"
        )
        r = bench_round(data, args.repeats)
        print(
            f"round screen (30 residents, whole day): {r['queries']} queries, "
            f"{r['dose_rows']} dose rows, p50 {r['p50_ms']:.1f} ms, max {r['max_ms']:.1f} ms"
        )
        if args.skip_http:
            return
        env = {**os.environ, "DATABASE_URL": bench_url, "LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "emar.wsgi:application",
                "--bind",
                f"127.0.0.1:{PORT}",
                "--workers",
                "4",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1)
        w = bench_recording(data, args.clients)
        from django.db.models import Count

        from medications.models import Administration

        dupes = (
            Administration.objects.filter(dose_id__in=data["open_doses"])
            .values("dose_id")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
        recorded = Administration.objects.filter(dose_id__in=data["open_doses"]).count()
        print(
            f"recording over HTTP ({args.clients} clients): {w['requests']} requests in "
            f"{w['seconds']:.1f}s = {w['per_second']:.0f}/s, p50 {w['p50_ms']:.1f} ms, "
            f"p99 {w['p99_ms']:.1f} ms, statuses {w['statuses']}; {recorded} records for "
            f"{len(data['open_doses'])} doses, {dupes} doses recorded twice"
        )
    finally:
        if server:
            server.terminate()
            server.wait(10)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(base, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
