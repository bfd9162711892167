"""Tried as an operator whose Redis, and then whose PostgreSQL, restarts in the middle of a burst of containers (and
of a docker command through the tap): no daemon event or tapped request is lost and none is stored twice (the store
is the truth), /readyz names what is down meanwhile, the publications stay numbered without a gap, and a browser
that followed throughout (reconnecting and resyncing as the page does) ends with exactly the diagram a fresh
snapshot shows."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from archviz.lab import Lab
from tests.conftest import Deployment, dashboard_env, free_port
from tests.scaleout_helpers import LiveClient, Postgres, Redis, in_own_loop
from tests.test_scaleout_operations import readiness
from tests.test_tap import docker

pytestmark = [pytest.mark.scaleout, pytest.mark.lab]
# Containers created and removed before, during and after each outage: each makes two daemon events.
PER_STEP = 6


@pytest.fixture
def database(postgres: Postgres) -> str:
    return postgres.new_database()


@pytest.fixture
def tap_socket() -> Iterator[Path]:
    path = Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock")
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def watched(lab: Lab, postgres: Postgres, redis: Redis, database: str, tap_socket: Path,
            tmp_path: Path) -> Iterator[Deployment]:
    env = dashboard_env(tmp_path, lab.docker_host) | {"DATABASE_URL": database, "REDIS_URL": redis.url}
    scaled = Deployment(env, [free_port()], [["watch"], ["tap", "--listen", f"unix://{tap_socket}"]])
    try:
        scaled.start()
        deadline = time.monotonic() + 30
        while not tap_socket.exists():
            assert time.monotonic() < deadline, "the tap did not listen"
            time.sleep(0.05)
        yield scaled
    finally:
        scaled.stop()
        for part in (postgres, redis):  # whatever happened, the session's parts run again for the next tests
            if part.process is None or part.process.poll() is not None:
                part.start()


def containers(lab: Lab, names: list[str]) -> None:
    client = lab.client()
    try:
        for name in names:
            client.containers.create(lab.base_image, ["true"], name=name, network_mode="none").remove()
    finally:
        client.close()


def outage(url: str, part: Postgres | Redis, check: str, meanwhile: Callable[[], None]) -> None:
    """Stop the part, do something while it is down, see /readyz name it, start it again."""
    part.stop()
    meanwhile()
    assert readiness(url, 503)["not_ready"][0] == check
    part.start()


def stored(database: str, prefix: str) -> dict[tuple[str, str], int]:
    with psycopg.connect(database) as connection:
        rows = connection.execute("SELECT subject, kind, count(*) FROM archviz_observation WHERE subject LIKE %s "
                                  "GROUP BY subject, kind", (f"{prefix}%",)).fetchall()
    return {(subject, kind): count for subject, kind, count in rows}


def publications(database: str) -> tuple[list[int], int, int]:
    with psycopg.connect(database) as connection:
        seqs = [seq for (seq,) in connection.execute("SELECT seq FROM archviz_publication ORDER BY seq")]
        (last,) = connection.execute("SELECT coalesce(max(last_observation), 0) FROM archviz_publication").fetchone()
        (newest,) = connection.execute("SELECT coalesce(max(id), 0) FROM archviz_observation").fetchone()
    return seqs, last, newest


def tapped_volume(tap_socket: Path, name: str) -> None:
    result = docker(f"unix://{tap_socket}", "volume", "create", name)
    assert result.returncode == 0, result.stderr


def tapped_volume_creates(database: str) -> list[tuple[str, int]]:
    """What the tap stored of `POST /volumes/create` (the test's one volume): each kind with its status."""
    with psycopg.connect(database) as connection:
        rows = connection.execute("SELECT kind, attributes->>'status' FROM archviz_observation WHERE source = 'tap' "
                                  "AND attributes->>'path' = '/volumes/create'").fetchall()
    return sorted((kind, int(status or 0)) for kind, status in rows)


def test_a_burst_survives_a_redis_restart_and_a_postgresql_restart(lab: Lab, watched: Deployment, postgres: Postgres,
                                                                   redis: Redis, database: str,
                                                                   tap_socket: Path) -> None:
    prefix = f"burst-{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{i:02d}" for i in range(5 * PER_STEP)]
    steps = [names[i:i + PER_STEP] for i in range(0, len(names), PER_STEP)]
    (port,) = watched.ports
    url = f"http://127.0.0.1:{port}"
    readiness(url, 200)
    volume = f"{prefix}volume"

    def while_postgresql_is_down() -> None:
        containers(lab, steps[3])
        tapped_volume(tap_socket, volume)

    plan: list[Callable[[], None]] = [
        lambda: containers(lab, steps[0]),
        lambda: outage(url, redis, "channel layer", lambda: containers(lab, steps[1])),
        lambda: containers(lab, steps[2]),
        lambda: outage(url, postgres, "database", while_postgresql_is_down),
        lambda: containers(lab, steps[4]),
    ]
    in_own_loop(follow_through(port, plan, f"remove container {names[-1]}"))

    assert {key: count for key, count in stored(database, prefix).items() if key[0] != volume} == {
        (name, kind): 1 for name in names for kind in ("container-create", "container-destroy")}
    assert tapped_volume_creates(database) == [("api-call", 201), ("api-request", 0)]
    seqs, last, newest = publications(database)
    assert seqs == list(range(1, len(seqs) + 1)) and last == newest


async def follow_through(port: int, plan: list[Callable[[], None]], last_label: str) -> None:
    async with LiveClient(port, follow=True) as browser:
        for step in plan:
            work = asyncio.get_running_loop().run_in_executor(None, step)
            while not work.done():  # keep reading, as a page does, while the step runs
                with contextlib.suppress(TimeoutError):
                    await browser.receive(timeout=0.2)
            await work
        await browser.until(last_label, timeout=60)
        await browser.settle()
        async with LiveClient(port) as fresh:
            assert browser.diagram() == fresh.diagram()
            assert browser.reconnects >= 1  # Redis (and PostgreSQL) going away closed its socket
