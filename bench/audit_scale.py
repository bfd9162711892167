"""The registry audit trail at 1,000,000 events, in process: filtered pages, "who pulled digest X", each report,
and the memory a CSV export of every event takes.

Makes a temporary SQLite store (migrated, then bulk-loaded with bench/audit_data.py's events: the audit table's
indexes dropped, the rows inserted in one transaction, the same indexes made again, ANALYZE), then, through
Django's test client (the views, the ORM and the database; no HTTP server):
- GET /api/registry/events/ filtered by repository, actor, action, pairs of them, and a digest: p50/p95;
- "who pulled digest X" (/api/registry/reports/pulls/) for the most pulled digest and for ordinary ones: p50/p95;
- each report of archviz.audit.reports once over the whole trail (no target: how long a team waits);
- /api/registry/events.csv of every event, streamed, in a fresh process: its peak resident memory (VmHWM).
Each figure is printed beside its target, with the plan SQLite chose for the query (EXPLAIN QUERY PLAN).
Run: .venv/bin/python bench/audit_scale.py [--events N] [--requests R]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# A run with --export-only is this script again, in a fresh process, on the store its parent made.
DATA = Path(os.environ.get("AVBENCH_AUDIT_STORE") or tempfile.mkdtemp(prefix="avbench-audit-scale-"))
os.environ.update(ARCHVIZ_DATA_DIR=str(DATA), DJANGO_SETTINGS_MODULE="dashboard.settings")
for _name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(_name, None)

import django  # noqa: E402

django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from archviz.audit.reports import REPORTS  # noqa: E402
from bench.audit_data import ACTORS, BASE, CLIENTS, REPOSITORIES, TAGS, fill, manifest_digest  # noqa: E402

TARGET_MS = 50
TARGET_MB = 150
ACTIONS = ("push", "pull", "mount", "delete")
EVENTS = "/api/registry/events/"


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(int(len(ordered) * 0.95) - 1, 0)]


def plan(url: str, query: dict[str, str]) -> str:
    """The plan SQLite chose for the audit table's queries of one request."""
    with CaptureQueriesContext(connection) as captured:
        get(url, query)
    steps = []
    with connection.cursor() as cursor:
        for statement in captured.captured_queries:
            if "archviz_registry_event" in statement["sql"]:
                cursor.execute("EXPLAIN QUERY PLAN " + statement["sql"])
                steps.append("; ".join(row[3] for row in cursor.fetchall()))
    return " | ".join(steps)


CLIENT = Client(HTTP_HOST="127.0.0.1")


def get(url: str, query: dict[str, str]) -> float:
    started = time.perf_counter()
    response = CLIENT.get(url, query)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, query, response.content[:300])
    return elapsed


def measure(label: str, url: str, make: Callable[[], dict[str, str]], requests: int) -> None:
    """Time `requests` GETs of `url` with the queries `make` makes; print p50 and p95 against the target, and the
    plan of the slowest request's queries."""
    times, slowest = [], (0.0, {})
    for _ in range(requests):
        query = make()
        elapsed = get(url, query)
        times.append(elapsed)
        slowest = max(slowest, (elapsed, query), key=lambda pair: pair[0])
    verdict = "ok" if p95(times) <= TARGET_MS else "OVER"
    print(f"{label:<36} p50 {statistics.median(times):6.1f} ms  p95 {p95(times):6.1f} ms  "
          f"(target p95 <= {TARGET_MS} ms: {verdict})")
    print(f"{'':<36} plan of the slowest: {plan(url, slowest[1])}")


def resident_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (the peak) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def export_everything() -> None:
    """Stream the CSV of every event as a client reads it, keeping nothing, and print the rows, the time and the
    process's peak resident memory (VmHWM: Django and SQLite included, as a web process serving it would hold)."""
    get(EVENTS, {})  # Django and the database set up, as in a web process that has served a page
    before = resident_mb("VmRSS")
    started = time.perf_counter()
    response = CLIENT.get("/api/registry/events.csv")

    async def read() -> tuple[int, int]:
        lines = size = 0
        async for chunk in response.streaming_content:
            data = chunk.encode() if isinstance(chunk, str) else chunk
            lines, size = lines + data.count(b"\n"), size + len(data)
        return lines, size

    lines, size = async_to_sync(read)()
    seconds, peak = time.perf_counter() - started, resident_mb("VmHWM")
    print(f"CSV export of every event: {lines - 1:,} rows, {size / 1e6:,.0f} MB in {seconds:.0f} s; peak resident "
          f"memory of the process serving it {peak:.0f} MB ({before:.0f} MB before the request) "
          f"(target <= {TARGET_MB} MB: {'ok' if peak <= TARGET_MB else 'OVER'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per kind of query")
    parser.add_argument("--export-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_only:
        export_everything()
        return
    try:
        call_command("migrate", verbosity=0)
        seconds = fill(DATA / "archviz.sqlite3", args.events, time.time_ns())
        print(f"store: {args.events:,} events bulk-loaded in {seconds:.1f} s")
        rng = random.Random(3)
        filters: dict[str, Callable[[], dict[str, str]]] = {
            "repository": lambda: {"repository": rng.choice(REPOSITORIES)},
            "actor": lambda: {"actor": rng.choice(ACTORS)},
            "action": lambda: {"action": rng.choice(ACTIONS)},
            "repository + action": lambda: {"repository": rng.choice(REPOSITORIES), "action": rng.choice(ACTIONS)},
            "actor + action": lambda: {"actor": rng.choice(ACTORS), "action": rng.choice(ACTIONS)},
            "client address + action": lambda: {"addr": rng.choice(CLIENTS)[0], "action": rng.choice(ACTIONS)},
            "repository + actor": lambda: {"repository": rng.choice(REPOSITORIES), "actor": rng.choice(ACTORS)},
            "digest (the most pulled)": lambda: {"digest": manifest_digest(*BASE, 0)},
        }
        get(EVENTS, {})  # a first request sets Django up
        for label, make in filters.items():
            measure(f"filtered page, {label}", EVENTS, make, args.requests)
        pulls = "/api/registry/reports/pulls/"
        hot = manifest_digest(*BASE, 0)
        measure("who pulled, the most pulled digest", pulls, lambda: {"digest": hot}, args.requests)
        measure("who pulled, an ordinary digest", pulls,
                lambda: {"digest": manifest_digest(rng.choice(REPOSITORIES), rng.choice(TAGS), 1)}, args.requests)
        for name, query in (("actors", {}), ("repositories", {}), ("unpulled-tags", {"days": "1"}),
                            ("after-hours-pushes", {})):
            started = time.perf_counter()
            answer = CLIENT.get(f"/api/registry/reports/{name}/", query).json()[REPORTS[name].key]
            print(f"report {name} over everything: {(time.perf_counter() - started) * 1000:,.0f} ms, "
                  f"{len(answer):,} records (no target)")
        # The export in a fresh process, as a web process serves it: this one holds what the reports read.
        subprocess.run([sys.executable, __file__, "--export-only"], check=True, timeout=1800,
                       env={**os.environ, "AVBENCH_AUDIT_STORE": str(DATA)})
    finally:
        shutil.rmtree(DATA, ignore_errors=True)
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
