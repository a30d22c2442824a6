"""Benchmark: recording doses from the round over HTTP at 1, 4 and 8 carers in one home and in
10 homes at once, each figure beside a bare Django view measured in the same run (SPEC §11,
R-MAR-5, R-SEC-4).

Builds its own PostgreSQL database (default `emar_bench_recording`, dropped afterwards unless
--keep): one home (`bench/round.py`'s generator, its open doses in units of 30 residents) with
8 trained carers, and `--homes` more homes with one carer each. gunicorn (4 workers x 4
threads, settings `bench.bare_settings`: the product plus /bench/bare, a view that does
nothing) serves both. For each configuration it runs, back to back:

1. bare: the same number of clients GET /bench/bare `--bare` times each;
2. recording: each client, signed in as its own carer, taps "given" on its share of the open
   doses (an htmx POST of the round's row form), every 5th tap sent twice with the same
   idempotency key (a double tap). A tap's whole server cost is counted: when the response
   asks the page to refresh its counts (`HX-Trigger: doseRecorded`, the round page's
   `hx-get`), the client makes that request too, as the browser would.

It prints taps/s, p50 and p99 per tap, the bare figures and the ratio, the load average, and
checks that every dose has exactly one record.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/recording.py --per-client 150 --homes 10
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = 8793

import bench.round as round_bench  # noqa: E402
from bench.round import _admin, _with_db, generate  # noqa: E402

round_bench.PORT = PORT  # its _login signs in against this server


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _stats(latencies: list[float], wall: float, extra: dict) -> dict:
    latencies.sort()
    return {
        "n": len(latencies),
        "seconds": wall,
        "per_second": len(latencies) / wall,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        **extra,
    }


def _threads(targets: list) -> float:
    threads = [threading.Thread(target=t) for t in targets]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def bare(clients: int, each: int) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        mine = []
        for _ in range(each):
            t = time.perf_counter()
            conn.request("GET", "/bench/bare")
            conn.getresponse().read()
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            latencies.extend(mine)

    wall = _threads([worker] * clients)
    return _stats(latencies, wall, {})


def record(work: list[dict]) -> dict:
    """`work`: one dict per client: username, home id, doses as (dose id, unit id)."""
    latencies: list[float] = []
    posts: list[float] = []
    statuses: dict[int, int] = {}
    refreshes = [0]
    lock = threading.Lock()

    def worker(item: dict) -> None:
        session, csrf = round_bench._login(item["username"])
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"sessionid={session}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "HX-Request": "true",
        }
        mine, mine_posts, seen, refreshed = [], [], {}, 0
        for n, (dose, unit) in enumerate(item["doses"]):
            body = urlencode({"idempotency_key": str(uuid.uuid4()), "outcome": "given"})
            for _ in range(2 if n % 5 == 0 else 1):  # every 5th is sent twice: a double tap
                t = time.perf_counter()
                conn.request("POST", f"/doses/{dose}/record/", body, headers)
                r = conn.getresponse()
                r.read()
                seen[r.status] = seen.get(r.status, 0) + 1
                mine_posts.append((time.perf_counter() - t) * 1000)
                if "doseRecorded" in (r.getheader("HX-Trigger") or ""):
                    # the round page's counts (hx-get of the page, hx-select #round-counts)
                    conn.request("GET", f"/homes/{item['home']}/round/?unit={unit}", None, headers)
                    g = conn.getresponse()
                    g.read()
                    refreshed += 1
                mine.append((time.perf_counter() - t) * 1000)
        with lock:
            latencies.extend(mine)
            posts.extend(mine_posts)
            refreshes[0] += refreshed
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    wall = _threads([lambda item=item: worker(item) for item in work])
    posts.sort()
    return _stats(
        latencies,
        wall,
        {
            "statuses": statuses,
            "refreshes": refreshes[0],
            "post_p50_ms": posts[len(posts) // 2],
            "post_p99_ms": posts[max(0, int(len(posts) * 0.99) - 1)],
        },
    )


def duplicates(dose_ids: list[int]) -> tuple[int, int]:
    from django.db.models import Count

    from medications.models import Administration

    records = Administration.objects.filter(dose_id__in=dose_ids)
    dupes = records.values("dose_id").annotate(n=Count("id")).filter(n__gt=1).count()
    return records.count(), dupes


def report(name: str, b: dict, r: dict, doses: list[int], load: str) -> None:
    recorded, dupes = duplicates(doses)
    print(
        f"| {name} | {b['per_second']:,.0f}/s, p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms "
        f"| {r['per_second']:,.1f} taps/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms "
        f"| {r['per_second'] / b['per_second']:.1%} | {load} |"
    )
    print(
        f"    {r['n']} taps, statuses {r['statuses']}, {r['refreshes']} counts refreshes; "
        f"the POST alone p50 {r['post_p50_ms']:.1f} ms, p99 {r['post_p99_ms']:.1f} ms; "
        f"{recorded} records for {len(doses)} doses, {dupes} recorded twice",
        flush=True,
    )


def main() -> None:
    global PORT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-client", type=int, default=150, help="doses each client taps")
    parser.add_argument("--clients", default="1,4,8", help="client counts in the one home")
    parser.add_argument("--homes", type=int, default=10, help="homes recording at once")
    parser.add_argument("--history-days", type=int, default=3)
    parser.add_argument("--bare", type=int, default=300, help="bare GETs per client")
    parser.add_argument("--db", default="emar_bench_recording")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    PORT = round_bench.PORT = args.port
    counts = [int(c) for c in args.clients.split(",")]
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
        one = generate(
            args.per_client * sum(counts),
            max(counts),
            args.history_days,
            unit_size=30,
        )
        others = [
            generate(args.per_client, 1, args.history_days, prefix=f"home{n}", unit_size=30)
            for n in range(args.homes)
        ]
        print(
            f"generated in {time.perf_counter() - t:.1f}s: 1 home with "
            f"{len(one['open_doses'])} open doses and {args.homes} homes with "
            f"{args.per_client} each"
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
        bare(4, 50)  # warm every worker
        print(
            "| recording | bare Django view, same clients | recording (a tap: POST + any "
            "request it triggers) | share of bare | load average (1, 5, 15 min) |"
        )
        print("|---|---|---|---|---|")
        pool = list(one["open_doses"])
        for clients in counts:
            taken, pool = pool[: clients * args.per_client], pool[clients * args.per_client :]
            work = [
                {
                    "username": one["carers"][i],
                    "home": one["home"],
                    "doses": [(d, one["dose_units"][d]) for d in taken[i::clients]],
                }
                for i in range(clients)
            ]
            b = bare(clients, args.bare)
            r = record(work)
            report(f"one home, {clients} carers", b, r, taken, _load())
        if others:
            work = [
                {
                    "username": h["carers"][0],
                    "home": h["home"],
                    "doses": [(d, h["dose_units"][d]) for d in h["open_doses"]],
                }
                for h in others
            ]
            b = bare(len(others), args.bare)
            r = record(work)
            doses = [d for h in others for d in h["open_doses"]]
            report(f"{len(others)} homes, 1 carer each", b, r, doses, _load())
    finally:
        if server:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(base, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
