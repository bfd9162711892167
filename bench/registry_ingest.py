"""Registry notification ingestion over HTTP into the database: events per second.

Starts `manage.py serve` (SQLite in a temp dir unless DATABASE_URL is set; no watcher), then posts what
distribution 3.1.1 sent for a push, pull and delete session (tests/data/registry/v3_session.json: blobs,
manifests with references, deletes), each event with a fresh id, the way registries deliver:

- single-event serial: one event per POST (media type events.v2+json), one keep-alive connection, each POST
  waiting for the previous answer: how distribution 3 delivers to one endpoint. The headline figure, measured
  --rounds times (the median is printed too); target >= 1,000 events/s.
- the same with a new connection per event (distribution 3.1.1's HTTP sink closes idle connections after each
  delivery), ten events per envelope (distribution 2.x may batch), and four connections at once (four registries).

Checks at the end that every event was stored exactly once.
Run: .venv/bin/python bench/registry_ingest.py [--events N] [--rounds R]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from tests.conftest import webhook_dashboard  # noqa: E402
from tests.recorded import registry_v3_events  # noqa: E402

TOKEN = "bench-token"
MEDIA_TYPE = "application/vnd.docker.distribution.events.v2+json"
SESSION = registry_v3_events()


SENT: set[str] = set()  # the ids of every event made, to find them among what the database holds


def envelopes(count: int, per_envelope: int) -> list[bytes]:
    """Bodies as distribution writes them (indented JSON), cycling through the recorded session."""
    bodies = []
    for start in range(0, count, per_envelope):
        events = [{**SESSION[(start + offset) % len(SESSION)], "id": str(uuid.uuid4())}
                  for offset in range(per_envelope)]
        SENT.update(event["id"] for event in events)
        bodies.append(json.dumps({"events": events}, indent=3).encode())
    return bodies


def requests(port: int, bodies: list[bytes]) -> list[bytes]:
    """Each body as the whole HTTP request a registry's Go client writes (its headers, in one piece)."""
    head = (f"POST /hooks/registry/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: Go-http-client/1.1\r\n"
            f"Content-Type: {MEDIA_TYPE}\r\nAuthorization: Bearer {TOKEN}\r\nAccept-Encoding: gzip\r\n")
    return [f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body for body in bodies]


def deliver(port: int, bodies: list[bytes], reconnect: bool = False) -> None:
    """POST each body and wait for its answer, over one keep-alive connection (or a new one each time). The
    requests are written whole and the answers read with a few lines, not http.client, whose own cost per
    request (a fifth of a millisecond here) would be counted as the server's."""
    connection = None
    for request in requests(port, bodies):
        if connection is None:
            connection = socket.create_connection(("127.0.0.1", port), timeout=30)
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += received(connection)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head[:200]
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        while len(body) < length:
            body += received(connection)
        if reconnect:
            connection.close()
            connection = None
    if connection is not None:
        connection.close()


def received(connection: socket.socket) -> bytes:
    chunk = connection.recv(65536)
    if not chunk:
        raise ConnectionError("the dashboard closed the connection before answering")
    return chunk


def run(port: int, events: int, per_envelope: int = 1, connections: int = 1, reconnect: bool = False) -> float:
    bodies = envelopes(events, per_envelope)
    shares = [bodies[index::connections] for index in range(connections)]
    threads = [threading.Thread(target=deliver, args=(port, share, reconnect)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(bodies) * per_envelope / (time.perf_counter() - started)


def stored(port: int) -> tuple[int, int]:
    """How many of the events sent the API lists, and how many distinct ids among them (a database given with
    DATABASE_URL may hold other events too)."""
    ids: list[str] = []
    url: str | None = f"http://127.0.0.1:{port}/api/registry/events/?limit=1000"
    while url:
        with urllib.request.urlopen(url, timeout=60) as response:
            page = json.load(response)
        ids += [event["event_id"] for event in page["events"] if event["event_id"] in SENT]
        url = page["next"] and f"http://127.0.0.1:{port}{page['next']}"
    return len(ids), len(set(ids))


def sqlite_alone(folder: Path, transactions: int = 3000) -> float:
    """Two-row transactions per second of SQLite alone on the same disk, as archviz configures it (WAL,
    synchronous=NORMAL): how busy this machine is right now, to read the figures above against."""
    with contextlib.closing(sqlite3.connect(folder / "alone.sqlite3", isolation_level=None)) as database:
        database.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                               "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);"
                               "CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT);")
        started = time.perf_counter()
        for number in range(transactions):
            database.execute("BEGIN IMMEDIATE")
            database.execute("INSERT INTO a (v) VALUES (?)", (str(number),))
            database.execute("INSERT INTO b (v) VALUES (?)", (str(number),))
            database.execute("COMMIT")
        return transactions / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of the headline figure")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    data = Path(tempfile.mkdtemp(prefix="avbench-ingest-"))
    with webhook_dashboard(data, TOKEN, {"DATABASE_URL": database_url} if database_url else None) as url:
        port = int(url.rsplit(":", 1)[1])
        deliver(port, envelopes(100, 1))  # warm up
        rounds = []
        for _ in range(args.rounds):
            rounds.append(run(port, args.events))
        print(f"single-event serial ingest on {database}, one connection: "
              f"{' / '.join(f'{rate:,.0f}' for rate in rounds)} events/s (median {statistics.median(rounds):,.0f}); "
              f"target >= 1,000")
        for label, options in (("a new connection per event", {"reconnect": True}),
                               ("10 events per envelope, one connection", {"per_envelope": 10}),
                               ("single-event, 4 connections at once", {"connections": 4})):
            print(f"{label}: {run(port, args.events, **options):,.0f} events/s")
        count, distinct = stored(port)
    print(f"stored {count} of the {len(SENT)} events sent ({distinct} distinct)")
    print(f"for scale: SQLite alone, here and now, {sqlite_alone(data):,.0f} two-row transactions/s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
