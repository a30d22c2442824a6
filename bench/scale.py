"""Benchmark: flat at 100 homes (SPEC §11 last line).

Builds two PostgreSQL databases with `manage.py bench_generate`: one home, and `--homes` homes,
each with `--residents` residents and `--days` days of history, then, in each, times server-side
(in-process, Django's full request stack through the test client, median and p95 of `--runs`):

- the bare view `/bench/bare` (a view that does nothing, behind the same middleware): the
  framework's floor at that moment, printed beside every HTTP figure with the ratio;
- the round screen of one unit (30 residents): the current round and the whole day;
- the MAR chart of one resident;
- recording a dose (the htmx POST from the round), on a line added for the benchmark whose
  doses are due now;
- the due-dose reminder sweep (`dose_reminders_sweep`, every home: its cost follows the doses
  due now, so it is also given per home);
- a home's monthly audit metrics (`audits.metrics.compute`, last month);

and prints the large figure against the one-home figure (goal: within 1.5x), then EXPLAIN
(ANALYZE, BUFFERS) of the slowest queries of the round screen, the MAR chart and the metrics on
the large database. The measured home is the last one generated (its rows at the tables' end).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/scale.py --homes 100 --residents 60 --days 365

Quick mode (`make bench`): --homes 3 --days 30. `--keep` keeps both databases; `--reuse`
measures databases kept by an earlier run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def _stats(times: list[float]) -> dict:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": statistics.median(ordered), "p95": p95}


def _timed(fn, runs: int) -> tuple[dict, int, object]:
    """Median and p95 ms of `fn()` over `runs` (after one warm-up), its query count (from one
    more run: capturing the SQL costs time of its own), result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return _stats(times), len(ctx), result


def _slowest(fn, top: int) -> list[tuple[float, str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    found = [(float(q["time"]) * 1000, q["sql"]) for q in ctx.captured_queries]
    found = [f for f in found if f[1].lstrip().upper().startswith(("SELECT", "WITH"))]
    return sorted(found, reverse=True)[:top]


def _due_now_line(home, unit, carer_id: int, senior_id: int, count: int) -> list[int]:
    """A line for `count` residents of `unit` with a dose due now: the doses to record."""
    from django.utils import timezone

    from emar.management.commands.bench_generate import checked_lines
    from emar.models import User
    from medications import services
    from medications.models import Medicine, ScheduledDose
    from residents.models import Resident

    now = timezone.now()
    local = now.astimezone(home.tz)
    slot = f"{local:%H}:{local.minute // 5 * 5:02d}"
    began = now - dt.timedelta(days=2)
    lines = checked_lines(
        home=home,
        people=list(Resident.objects.filter(unit=unit).order_by("pk")[:count]),
        medicines=[Medicine.objects.filter(form__icontains="tablet", cd_register=False).first()],
        slots=[[slot]],
        began=began,
        entered_by=User.objects.get(pk=senior_id),
        checked_by=User.objects.get(pk=carer_id),
    )
    today = local.date()
    services.doses_sync(home=home, start=today, end=today, unit=unit, now=began)
    return list(
        ScheduledDose.objects.filter(line__in=lines, local_date=today)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def measure(runs: int, explain: bool) -> dict:
    """In this process's database (already generated): every figure, as JSON-ready values."""
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from audits import metrics
    from emar.models import CareHome, Membership, Role, Unit, User
    from medications.models import Administration, ScheduledDose
    from medications.reminders import dose_reminders_sweep
    from residents.models import Resident

    home = CareHome.objects.order_by("-pk").first()
    assert home is not None, "no home: run bench_generate first"
    unit = Unit.objects.filter(home=home).order_by("name").first()
    carer = (
        Membership.objects.filter(home=home, role=Role.CARER)
        .order_by("user__username")
        .values_list("user_id", flat=True)
        .first()
    )
    client = Client()
    client.force_login(User.objects.get(pk=carer))
    out: dict = {
        "homes": CareHome.objects.count(),
        "doses": ScheduledDose.objects.count(),
        "records": Administration.objects.count(),
        "load": os.getloadavg(),
    }

    def get(url):
        def run():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return run

    round_url = reverse("medications:round", args=[home.pk])
    resident = Resident.objects.filter(unit=unit).order_by("pk").first()
    urls = {
        "bare": "/bench/bare",
        "round": f"{round_url}?unit={unit.pk}",
        "day": f"{round_url}?unit={unit.pk}&round=all",
        "mar": reverse("medications:resident_mar", args=[resident.pk]),
    }
    for name, url in urls.items():
        stats, queries, _ = _timed(get(url), runs)
        out[name] = {**stats, "queries": queries}

    senior = (
        Membership.objects.filter(home=home, role=Role.SENIOR).values_list("user_id", flat=True)
    ).first()
    # Recorded on the home's last unit, so that a re-run (`--reuse`) measures the round screen
    # and the chart of the first unit as generated.
    last_unit = Unit.objects.filter(home=home).order_by("-name").first()
    doses = iter(_due_now_line(home, last_unit, carer, senior, runs * 2 + 2))
    page = f"http://testserver{urls['round']}"

    def record():
        response = client.post(
            reverse("medications:dose_record", args=[next(doses)]),
            {"idempotency_key": str(uuid.uuid4()), "outcome": "given"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=page,
        )
        assert response.status_code == 200, response.content[:300]

    stats, queries, _ = _timed(record, runs)
    out["record"] = {**stats, "queries": queries}

    now = timezone.now()
    stats, queries, _ = _timed(lambda: dose_reminders_sweep(now=now), runs)
    out["sweep"] = {**stats, "queries": queries, "per_home": stats["p50"] / out["homes"]}

    month = (now.astimezone(home.tz).date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    stats, queries, _ = _timed(lambda: metrics.compute(home, month, now=now), max(3, runs // 3))
    out["metrics"] = {**stats, "queries": queries}

    if explain:
        plans = []
        for name, fn in (
            ("round screen, whole day", get(urls["day"])),
            ("MAR chart", get(urls["mar"])),
            ("monthly metrics", lambda: metrics.compute(home, month, now=now)),
        ):
            for ms, sql in _slowest(fn, 2):
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                plans.append({"what": name, "ms": ms, "sql": sql, "plan": plan})
        out["plans"] = plans
    return out


ROWS = [
    ("round", "round screen, one round (30 residents)"),
    ("day", "round screen, whole day"),
    ("mar", "MAR chart, one resident"),
    ("record", "recording a dose (htmx POST)"),
    ("sweep", "reminder sweep (all homes)"),
    ("metrics", "monthly audit metrics, one home"),
]


def report(one: dict, big: dict) -> None:
    def line(r):
        return f"{r['p50']:.1f} ms (p95 {r['p95']:.1f}), {r['queries']} q"

    print(
        f"\none home: {one['doses']:,} doses, {one['records']:,} records; load "
        f"{' '.join(f'{x:.2f}' for x in one['load'])}"
    )
    print(
        f"{big['homes']} homes: {big['doses']:,} doses, {big['records']:,} records; load "
        f"{' '.join(f'{x:.2f}' for x in big['load'])}\n"
    )
    print(f"| what | one home | share of bare | {big['homes']} homes | share of bare | ratio |")
    print("|---|---|---|---|---|---|")
    print(f"| bare Django view (floor) | {line(one['bare'])} | 1 | {line(big['bare'])} | 1 | |")
    for key, label in ROWS:
        a, b = one[key], big[key]
        http = key in ("round", "day", "mar", "record")
        share_a = f"{a['p50'] / one['bare']['p50']:.0f}x" if http else ""
        share_b = f"{b['p50'] / big['bare']['p50']:.0f}x" if http else ""
        extra = f" ({b['per_home']:.2f} ms a home)" if key == "sweep" else ""
        print(
            f"| {label} | {line(a)} | {share_a} | {line(b)}{extra} | {share_b} "
            f"| {b['p50'] / a['p50']:.2f} |"
        )
    for plan in big.get("plans", []):
        print(f"\n### {plan['what']}: {plan['ms']:.1f} ms\n\n```\n{plan['sql'][:600]}\n")
        print(f"{plan['plan']}\n```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--homes", type=int, default=100)
    parser.add_argument("--residents", type=int, default=60)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--db",
        help="database name (default emar_bench_scale_<homes>; the quick run of "
        "`make bench` never drops a kept 100-home database)",
    )
    parser.add_argument("--keep", action="store_true", help="keep both databases afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure databases kept earlier")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one database, JSON out
    parser.add_argument("--explain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://... (the benchmark creates its own databases).")
    if args.measure:
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.bare_settings"
        os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
        import django

        django.setup()  # no setup_test_environment: its template instrumentation costs
        print(json.dumps(measure(args.runs, args.explain), default=str))
        return

    db = args.db or f"emar_bench_scale_{args.homes}"
    dbs = {1: f"{db}_one", args.homes: db}
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "true"}
    results = {}
    manage = [sys.executable, "manage.py"]
    template = f"{db}_migrated"
    try:
        if not args.reuse:  # migrate once, then copy the empty schema for both databases
            _admin(base, f'DROP DATABASE IF EXISTS "{template}"')
            _admin(base, f'CREATE DATABASE "{template}"')
            run_env = {**env, "DATABASE_URL": _with_db(base, template)}
            subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=run_env, check=True)
        for homes, name in dbs.items():
            url = _with_db(base, name)
            if not args.reuse:
                _admin(base, f'DROP DATABASE IF EXISTS "{name}"')
                _admin(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                t = time.perf_counter()
                run_env = {**env, "DATABASE_URL": url}
                subprocess.run(
                    [
                        *manage,
                        "bench_generate",
                        f"--homes={homes}",
                        f"--residents={args.residents}",
                        f"--days={args.days}",
                    ],
                    cwd=ROOT,
                    env=run_env,
                    check=True,
                )
                print(f"{name}: generated in {time.perf_counter() - t:.0f} s", flush=True)
            measured = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    f"--measure={name}",
                    f"--runs={args.runs}",
                    *(["--explain"] if homes == args.homes else []),
                ],
                cwd=ROOT,
                env={**env, "DATABASE_URL": url},
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            results[homes] = json.loads(measured.stdout.strip().splitlines()[-1])
        report(results[1], results[args.homes])
    finally:
        if not args.reuse:
            _admin(base, f'DROP DATABASE IF EXISTS "{template}"')
        if not (args.keep or args.reuse):
            for name in dbs.values():
                _admin(base, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
