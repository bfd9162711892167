"""The registry audit trail at 1,000,000 events: filtered pages (p95) and a CSV export of all of them (memory).

Fills a fresh SQLite store with bench/audit_data.py's events (200 repositories, pushes, pulls and HEAD existence
checks from 50 clients over 30 days), starts `manage.py serve`, then
- times filtered pages of the JSON API and of the /registry/ page over HTTP (first pages and deep pages
  reached by keyset cursors), and prints p50/p95;
- streams /api/registry/events.csv of every event and prints the server's peak memory (VmHWM) before and
  after, the rows received and the time taken.
Run: .venv/bin/python bench/audit_query.py [--events N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from bench.audit_data import CLIENTS, REPOSITORIES, fill  # noqa: E402
from tests.conftest import dashboard_env, free_port, start_serve  # noqa: E402


def get(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    return (time.perf_counter() - started) * 1000, body


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(times: list[float]) -> str:
    times = sorted(times)
    return f"p50 {statistics.median(times):6.1f} ms  p95 {times[int(len(times) * 0.95) - 1]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60, help="requests per kind of page")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="avbench-audit-"))
    env = dashboard_env(data, f"unix://{data}/no-daemon.sock")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    print(f"filling {args.events:,} events: {fill(data / 'archviz.sqlite3', args.events, time.time_ns()):.0f} s")
    port = free_port()
    server = start_serve(port, env, "--no-watch")
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(3)
    try:
        get(f"{base}/api/registry/events/")  # warm up
        filters = {
            "no filter": lambda: {},
            "repository": lambda: {"repository": rng.choice(REPOSITORIES)},
            "repository + downloads only": lambda: {"repository": rng.choice(REPOSITORIES), "action": "pull",
                                                    "checks": "hide"},
            "action + client": lambda: {"action": "push", "addr": rng.choice(CLIENTS)[0]},
            "actor + a week": lambda: {"actor": "ci-bot", "since": str(time.time() - 7 * 86_400)},
            "digest": lambda: {"digest": "sha256:" + "0" * 64},
        }
        for name, make in filters.items():
            times = []
            for _ in range(args.requests):
                query = urllib.parse.urlencode(make())
                elapsed, body = get(f"{base}/api/registry/events/?{query}")
                times.append(elapsed)
            print(f"API page, {name:<28} {summary(times)}")
        times, page_times = [], []
        for _ in range(args.requests):
            query = urllib.parse.urlencode({"repository": rng.choice(REPOSITORIES)})
            page_times.append(get(f"{base}/registry/?{query}")[0])
            url = f"{base}/api/registry/events/?{query}"
            for _ in range(5):  # five pages deep, by keyset cursor
                elapsed, body = get(url)
                following = json.loads(body)["next"]
                url = base + following if following else url
            times.append(elapsed)
        print(f"HTML page /registry/, repository filter  {summary(page_times)}")
        print(f"API page 5 deep by cursor, repository    {summary(times)}")
        before = peak_memory_mb(server.pid)
        started = time.perf_counter()
        received = lines = 0
        with urllib.request.urlopen(f"{base}/api/registry/events.csv", timeout=3600) as response:
            while chunk := response.read(1 << 20):
                received += len(chunk)
                lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        print(f"CSV export: {lines - 1:,} rows, {received / 1e6:,.0f} MB in {elapsed:.0f} s; server peak memory "
              f"{before:.0f} MB before, {peak_memory_mb(server.pid):.0f} MB after (VmHWM)")
    finally:
        server.terminate()
        server.wait(timeout=15)
    print("targets: filtered page p95 <= 50 ms; CSV export peak memory <= 150 MB")


if __name__ == "__main__":
    main()
