"""Benchmark: POST MedicationAdministration through the FHIR API (R-FHIR-2, SPEC §11), beside a
bare Django view measured in the same run on the same server.

Builds its own PostgreSQL database (default `emar_bench_api`, dropped afterwards unless --keep)
with the round benchmark's home (`bench/round.py`: a "Bench" unit whose doses are due now, stock
carried forward, trained carers), one API token per carer, then runs gunicorn (4 workers x 4
threads, settings `bench.bare_settings`: the product plus /bench/bare) and N client threads:

1. bare: each client GETs /bench/bare (a view that does nothing) `--bare` times;
2. API: each client POSTs one MedicationAdministration per open dose it owns, with its bearer
   token and an identifier per dose, every 5th sent twice (a retry: 200 with the first record).

It prints requests/s, p50 and p99 of both, the load average before and after, and checks that
every dose has exactly one record.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/api.py --doses 2000 --clients 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = 8792

from bench.round import _admin, _with_db, generate  # noqa: E402


def _run(clients: int, work: list[list], send) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker(items: list) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        for n, item in enumerate(items):
            for _ in range(2 if item.get("twice") and n % 5 == 0 else 1):
                t = time.perf_counter()
                status = send(conn, item)
                elapsed = (time.perf_counter() - t) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker, args=(work[i],)) for i in range(clients)]
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
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "statuses": statuses,
    }


def _bare(conn, item) -> int:
    conn.request("GET", "/bench/bare")
    r = conn.getresponse()
    r.read()
    return r.status


FIRST_ERROR: list[str] = []


def _post(conn, item) -> int:
    conn.request(
        "POST",
        "/fhir/r4/MedicationAdministration",
        item["body"],
        {"Authorization": f"Bearer {item['token']}", "Content-Type": "application/fhir+json"},
    )
    r = conn.getresponse()
    body = r.read()
    if r.status >= 300 and not FIRST_ERROR:
        FIRST_ERROR.append(f"{r.status} {body[:400]!r}")
    return r.status


def _bodies(data: dict, clients: int) -> list[list[dict]]:
    from emar.models import User
    from fhir_api.services import api_token_create
    from medications.models import ScheduledDose

    tokens = [
        api_token_create(user=User.objects.get(username=u), label="bench")[1]
        for u in data["carers"]
    ]
    doses = list(
        ScheduledDose.objects.filter(pk__in=data["open_doses"])
        .order_by("pk")
        .values_list("pk", "line_id", "resident_id", "due_at", "line__medicine_id")
    )
    work: list[list[dict]] = [[] for _ in range(clients)]
    for i, (pk, line_id, resident_id, due_at, medicine_id) in enumerate(doses):
        body = {
            "resourceType": "MedicationAdministration",
            "identifier": [{"system": "https://bench.example/dose", "value": str(pk)}],
            "status": "completed",
            "subject": {"reference": f"Patient/{resident_id}"},
            "medicationReference": {"reference": f"Medication/{medicine_id}"},
            "request": {"reference": f"MedicationRequest/{line_id}"},
            "effectiveDateTime": due_at.isoformat(),
            "dosage": {"dose": {"value": 1, "unit": "tablet(s)"}},
        }
        work[i % clients].append(
            {"body": json.dumps(body), "token": tokens[i % clients], "twice": True}
        )
    return work


def _line(name: str, r: dict) -> str:
    return (
        f"{name}: {r['requests']} requests in {r['seconds']:.1f}s = {r['per_second']:.0f}/s, "
        f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, statuses {r['statuses']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--doses", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--history-days", type=int, default=14)
    parser.add_argument("--bare", type=int, default=300, help="bare GETs per client")
    parser.add_argument("--db", default="emar_bench_api")
    parser.add_argument("--keep", action="store_true")
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
        work = _bodies(data, args.clients)
        print(
            f"generated in {time.perf_counter() - t:.1f}s: {data['history_records']} history "
            f"records, {len(data['open_doses'])} open doses, {args.clients} tokens"
        )
        env = {
            **os.environ,
            "DATABASE_URL": bench_url,
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "bench.bare_settings",
        }
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
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
                conn.request("GET", "/bench/bare")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        bare = _run(args.clients, [[{}] * args.bare for _ in range(args.clients)], _bare)
        print(_line(f"bare Django view ({args.clients} clients)", bare))
        api = _run(args.clients, work, _post)
        print(_line(f"API POST MedicationAdministration ({args.clients} clients)", api))
        if FIRST_ERROR:
            print(f"first error: {FIRST_ERROR[0]}")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        from django.db.models import Count

        from medications.models import Administration

        records = Administration.objects.filter(dose_id__in=data["open_doses"])
        dupes = records.values("dose_id").annotate(n=Count("id")).filter(n__gt=1).count()
        print(
            f"{records.count()} records for {len(data['open_doses'])} doses, "
            f"{dupes} doses recorded twice"
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
