"""Tried as an operator whose dashboard is open in a hundred browsers while a registry sends a burst: two web
processes on PostgreSQL and Redis, 100 live clients following (as the page does) and one tab that stopped
reading. Every client receives every publication, in order, and ends with what a fresh snapshot shows; the tab
that does not read is let go (closed with the "resync" code, tests/test_live_socket.py) instead of being queued for
without end.
Bounded: 1,000 events at 500 a second, one a POST (about 2 s), then at most a minute to settle. The same at 60 s is
`bench/scaleout.py --clients 100 --rate 500 --seconds 60 --idle-clients 1`."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Deployment, dashboard_env, free_port
from tests.recorded import registry_v3_events
from tests.scaleout_helpers import LiveClient, Postgres, Redis, how_it_ended, idle_client, in_order, in_own_loop

pytestmark = [pytest.mark.scaleout]
TOKEN = "load-token"
CLIENTS = 100
EVENTS, PER_SECOND, PER_ENVELOPE = 1000, 500, 1
LAG_LIMIT = 100  # the least it may be: a page says how far it is every 50 publications
SESSION = registry_v3_events()


@pytest.fixture
def web(postgres: Postgres, redis: Redis, tmp_path: Path) -> Iterator[list[int]]:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock") | {
        "DATABASE_URL": postgres.new_database(), "REDIS_URL": redis.url, "ARCHVIZ_REGISTRY_TOKEN": TOKEN,
        "ARCHVIZ_SNAPSHOT_SIZE": "5000", "ARCHVIZ_SOCKET_LAG_LIMIT": str(LAG_LIMIT), "ARCHVIZ_LOG_LEVEL": "WARNING"}
    deployment = Deployment(env, [free_port(), free_port()], [])
    try:
        deployment.start()
        yield deployment.ports
    finally:
        deployment.stop()


def notify(port: int) -> None:
    """POST the burst as a registry would, PER_ENVELOPE events an envelope, at PER_SECOND events a second."""
    started = time.monotonic()
    for sent in range(0, EVENTS, PER_ENVELOPE):
        time.sleep(max(0.0, started + sent / PER_SECOND - time.monotonic()))
        events = [{**SESSION[(sent + offset) % len(SESSION)], "id": str(uuid.uuid4())}
                  for offset in range(PER_ENVELOPE)]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/hooks/registry/", data=json.dumps({"events": events}).encode(), method="POST",
            headers={"Authorization": f"Bearer {TOKEN}",
                     "Content-Type": "application/vnd.docker.distribution.events.v2+json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return answer.read().decode()


def test_a_hundred_browsers_follow_a_burst_and_a_tab_that_does_not_read_is_told_to_resync(web: list[int]) -> None:
    in_own_loop(follow_a_burst(web))


async def follow_a_burst(ports: list[int]) -> None:
    texts: dict[str, str] = {}
    clients = [LiveClient(ports[index % 2], follow=True, texts=texts) for index in range(CLIENTS)]
    for client in clients:
        await client.__aenter__()
    idle = await idle_client(ports[1])
    last: list[int] = []

    async def follow(client: LiveClient) -> None:
        while not last or client.seq < last[0]:
            try:
                await client.receive_head(timeout=0.5)
            except TimeoutError:
                continue

    following = [asyncio.create_task(follow(client)) for client in clients]
    await asyncio.to_thread(notify, ports[0])
    async with LiveClient(ports[1]) as fresh:
        await fresh.settle(quiet=2)
        last.append(fresh.seq)
        truth = fresh.diagram()
    await asyncio.wait_for(asyncio.gather(*following), 60)

    assert len(truth["messages"]) >= EVENTS
    assert sum(in_order(client) for client in clients) == CLIENTS
    assert sum(client.reconnects for client in clients) == 0
    assert sum(client.diagram() == truth for client in clients) == CLIENTS
    # The server let go of the tab that does not read: its close (RESYNC_CLOSE, for a page that reads again later)
    # waits behind frames the tab never read, so the connection is dropped.
    assert (await how_it_ended(idle)).startswith("closed by the server")
    said = [line for port in ports for line in (await asyncio.to_thread(metrics, port)).splitlines()
            if line.startswith("archviz_sockets_closed_behind_total")]
    assert said == ['archviz_sockets_closed_behind_total{socket="live"} 1.0'], said
    for client in clients:
        await client.__aexit__()
