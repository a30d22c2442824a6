"""`make bench`: the quick benchmarks, a few minutes on a 2-core machine (SPEC §11).

Each script builds and drops its own PostgreSQL database on the server DATABASE_URL names
(default: the local server's `postgres` database). The full-size runs are the commands in
BENCHMARKS.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = [
    ["bench/recording.py", "--per-client", "40", "--homes", "10"],
    ["bench/round.py", "--doses", "120", "--history-days", "14", "--skip-http"],
    ["bench/sweep.py", "--homes", "10", "--history-days", "7", "--runs", "3"],
    ["bench/scale.py", "--homes", "3", "--days", "30", "--runs", "7"],
]


def main() -> int:
    env = {**os.environ}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    failed = 0
    for script in QUICK:
        print(f"\n$ python {' '.join(script)}", flush=True)
        failed |= subprocess.call([sys.executable, *script], cwd=ROOT, env=env)
    return failed


if __name__ == "__main__":
    sys.exit(main())
