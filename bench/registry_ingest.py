"""Registry notification ingestion over HTTP into SQLite: events per second.

Starts `manage.py serve` (SQLite, no watcher), then posts envelopes made from a recorded push notification,
each event with its own id, over keep-alive connections, the way a registry delivers them (one connection per
registry endpoint, one request at a time). Prints events/s for one event per envelope (what distribution 2.8
sends) and for ten, on one connection and on four, and checks every event was stored once.
Run: .venv/bin/python bench/registry_ingest.py [--events N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from archviz.sources.registry import MEDIA_TYPES  # noqa: E402
from tests.conftest import dashboard_env, free_port, start_serve  # noqa: E402

TOKEN = "bench-token"
TEMPLATE = json.loads((ROOT / "tests" / "data" / "registry" / "push.json").read_text())[-1]["events"][0]


def envelopes(count: int, per_envelope: int) -> list[bytes]:
    bodies = []
    for _ in range(0, count, per_envelope):
        events = [{**TEMPLATE, "id": str(uuid.uuid4())} for _ in range(per_envelope)]
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def deliver(port: int, bodies: list[bytes]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": MEDIA_TYPES[0], "Authorization": f"Bearer {TOKEN}"}
    for body in bodies:
        connection.request("POST", "/hooks/registry/", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    connection.close()


def run(port: int, events: int, per_envelope: int, connections: int) -> float:
    bodies = envelopes(events, per_envelope)
    shares = [bodies[index::connections] for index in range(connections)]
    threads = [threading.Thread(target=deliver, args=(port, share)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(bodies) * per_envelope / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events per measurement")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="avbench-ingest-"))
    env = dashboard_env(data, f"unix://{data}/no-daemon.sock") | {"ARCHVIZ_REGISTRY_TOKEN": TOKEN}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = start_serve(port, env, "--no-watch")
    total = 0
    try:
        deliver(port, envelopes(50, 1))  # warm up
        total += 50
        for per_envelope, connections in ((1, 1), (1, 4), (10, 1), (10, 4)):
            rate = run(port, args.events, per_envelope, connections)
            total += args.events
            print(f"{per_envelope:>2} event(s) per envelope, {connections} connection(s): {rate:,.0f} events/s")
    finally:
        server.terminate()
        server.wait(timeout=15)
    with sqlite3.connect(data / "archviz.sqlite3") as database:
        stored = database.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM archviz_registry_event").fetchone()
    print(f"stored {stored[0]} events ({stored[1]} distinct) of {total} sent; target >= 1,000 events/s")


if __name__ == "__main__":
    main()
