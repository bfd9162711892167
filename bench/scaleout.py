"""Scaled out under a bounded burst: two `serve --no-watch` web processes on a private PostgreSQL and redis-server,
browsers split across them, and a burst of registry notifications posted to one.

Starts its own PostgreSQL cluster and redis-server (tests/scaleout_helpers.py) and both web processes; connects
--clients websocket clients (half to each web process) that follow like the live page (a skipped publication number
asks for a fresh snapshot, and every 50 publications it says how far it is), and --idle-clients that never read;
posts --events notification events, --per-envelope to an envelope, as fast as one connection takes them, or
--rate events a second for --seconds. Prints the ingest rate, the publications made, how long until every client
held the last one, the frames and resyncs per client, whether every client received its frames in order and ends
with the diagram a fresh snapshot shows, how the idle clients were closed, and each web process's resident memory
before and after. Stops everything it started.
Run: .venv/bin/python bench/scaleout.py [--clients 20] [--events 1000] [--per-envelope 10]
     .venv/bin/python bench/scaleout.py --clients 100 --rate 500 --seconds 60 --idle-clients 1   (issue 15's load)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from bench.registry_ingest import TOKEN, deliver, envelopes  # noqa: E402
from tests.conftest import Deployment, dashboard_env, free_port  # noqa: E402
from tests.scaleout_helpers import (  # noqa: E402
    LiveClient,
    Postgres,
    Redis,
    how_it_ended,
    idle_client,
    in_order,
    postgres_bin,
)

# The whole run stops by itself after this long (past the burst itself), whatever happens.
DEADLINE_SECONDS = 180
# The idle clients' web processes close a socket this many publications behind (ARCHVIZ_SOCKET_LAG_LIMIT).
LAG_LIMIT = 200


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def unpublished(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("archviz_unpublished_observations "):
                return float(line.split()[1])
    raise RuntimeError("/metrics has no archviz_unpublished_observations")


def window(diagram: dict, snapshot: dict) -> list[dict]:
    """The diagram's Messages from the first observation a snapshot holds on (a snapshot holds the newest
    ARCHVIZ_SNAPSHOT_SIZE observations: a longer burst's first arrows are in no fresh snapshot)."""
    first = min((message["observation"] for message in snapshot["messages"]), default=0)
    return [message for message in diagram["messages"] if message["observation"] >= first]


def leads(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return "archviz_publisher_leading 1.0" in response.read().decode()


def paced(port: int, bodies: list[bytes], per_second: float) -> None:
    """Deliver the bodies at `per_second` envelopes a second (a tenth of a second's worth at a time)."""
    started = time.perf_counter()
    slice_size = max(1, round(per_second / 10))
    for index in range(0, len(bodies), slice_size):
        due = started + index / per_second
        time.sleep(max(0.0, due - time.perf_counter()))
        deliver(port, bodies[index:index + slice_size])


async def bench(ports: list[int], clients_count: int, events: int, per_envelope: int, rate: float,
                idle_count: int, web_pids: list[int]) -> None:
    texts: dict[str, str] = {}  # one copy of each frame, whichever clients were sent it
    clients = [LiveClient(ports[i % 2], follow=True, texts=texts) for i in range(clients_count)]
    for client in clients:
        await client.__aenter__()
    idle = [await idle_client(ports[i % 2]) for i in range(idle_count)]
    rss_before = [rss_kib(pid) for pid in web_pids]
    bodies = envelopes(events, per_envelope)
    target: list[int] = []

    async def follow(client: LiveClient) -> None:
        while not target or client.seq < target[0]:
            with contextlib.suppress(TimeoutError):
                await client.receive_head(timeout=0.5)

    following = [asyncio.create_task(follow(client)) for client in clients]
    started = time.perf_counter()
    if rate:
        await asyncio.to_thread(paced, ports[0], bodies, rate / per_envelope)
    else:
        await asyncio.to_thread(deliver, ports[0], bodies)
    ingested = time.perf_counter() - started
    while await asyncio.to_thread(unpublished, ports[0]):
        await asyncio.sleep(0.05)
    rss_burst = [rss_kib(pid) for pid in web_pids]  # before the fresh snapshot below, which costs memory of its own
    async with LiveClient(ports[1]) as fresh:
        target.append(fresh.seq)
        truth = fresh.diagram()
    await asyncio.gather(*following)
    delivered = time.perf_counter() - started
    rss_after = [rss_kib(pid) for pid in web_pids]
    leading = [await asyncio.to_thread(leads, port) for port in ports]

    same = sum(window(client.diagram(), truth) == truth["messages"] for client in clients)
    ordered = sum(in_order(client) for client in clients)
    endings = [await how_it_ended(socket) for socket in idle]
    frames = [sum(kind == "observations" for kind, _ in client.heads()) for client in clients]
    resyncs = [client.resyncs for client in clients]
    for client in clients:
        await client.__aexit__()
    print(f"{clients_count} clients on 2 web processes; {events} events in {len(bodies)} envelopes posted in "
          f"{ingested:.2f} s ({events / ingested:.0f} events/s stored)")
    print(f"publications: {target[0]}; every client held the last one {delivered:.2f} s after the first post")
    print(f"frames per client: median {statistics.median(frames)}, min {min(frames)}, max {max(frames)}")
    print(f"resyncs (after a skipped number): {sum(resyncs)} in all, by {sum(1 for r in resyncs if r)} clients")
    print(f"clients whose frames came in order: {ordered} of {clients_count}")
    print(f"clients whose diagram equals a fresh snapshot (its arrows, from its first observation on): {same} of "
          f"{clients_count}")
    for index, ending in enumerate(endings):
        print(f"idle client {index + 1} (never reads; limit {LAG_LIMIT} publications behind): {ending}")
    for index, (before, burst, after) in enumerate(zip(rss_before, rss_burst, rss_after, strict=True)):
        role = ("takes the posts, " if index == 0 else "") + ("publishes" if leading[index] else "forwards")
        print(f"web process {index + 1} ({role}) RSS: {before / 1024:.1f} MiB before the burst, {burst / 1024:.1f} "
              f"MiB after it ({(burst - before) / before * 100:+.1f} %)"
              + (f", {after / 1024:.1f} MiB once it had also built a fresh snapshot of up to ARCHVIZ_SNAPSHOT_SIZE "
                 f"observations for the check ({(after - before) / before * 100:+.1f} %)" if index == 1 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--per-envelope", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0, help="events a second (default: as fast as one connection)")
    parser.add_argument("--seconds", type=float, default=0, help="with --rate: how long the burst lasts")
    parser.add_argument("--idle-clients", type=int, default=0, help="clients that never read")
    options = parser.parse_args()
    if options.rate and options.seconds:
        options.events = round(options.rate * options.seconds)
    bin_dir, server = postgres_bin(), shutil.which("redis-server")
    if bin_dir is None or server is None:
        sys.exit("needs Debian's postgresql and redis-server: ./scripts/test installs them")
    postgres, redis = Postgres(bin_dir), Redis(server)
    data = Path(tempfile.mkdtemp(prefix="avbench-"))
    deployment = None
    try:
        postgres.start()
        redis.start()
        env = dashboard_env(data, "unix:///nonexistent.sock") | {
            "DATABASE_URL": postgres.new_database(), "REDIS_URL": redis.url, "ARCHVIZ_REGISTRY_TOKEN": TOKEN,
            "ARCHVIZ_LOG_LEVEL": "ERROR", "ARCHVIZ_SNAPSHOT_SIZE": "5000",  # a snapshot holds the whole burst
            "ARCHVIZ_SOCKET_LAG_LIMIT": str(LAG_LIMIT)}
        deployment = Deployment(env, [free_port(), free_port()], [])
        deployment.start()
        asyncio.run(asyncio.wait_for(
            bench(deployment.ports, options.clients, options.events, options.per_envelope, options.rate,
                  options.idle_clients, [process.pid for process in deployment.processes]),
            DEADLINE_SECONDS + options.seconds))
    finally:
        if deployment is not None:
            deployment.stop()
        postgres.remove()
        redis.remove()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
