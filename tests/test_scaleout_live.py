"""Tried as an operator scales out: PostgreSQL and Redis, two `serve --no-watch` web processes (one taking the lab
registry's notifications), one `watch` and one `tap`, each storing what it sees. A `docker run` of a missing image
through the tap reaches browsers on both web processes as the same publications, message for message, even after
they sat idle for a minute, drawn in one box however many processes stored its parts; a browser
that connects afterwards is shown exactly that diagram in its snapshot (live == reload)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import Deployment, dashboard_env, free_port
from tests.scaleout_helpers import LiveClient, Postgres, Redis, in_own_loop
from tests.test_tap import docker

pytestmark = [pytest.mark.scaleout, pytest.mark.lab]
# A minute, as an operator leaves a page open: past redis-py 8's default read timeout and channels_redis's
# blocking receive (5 s each, where an idle socket used to be closed with 1011) and daphne's pings (every 20 s).
IDLE_SECONDS = 61


@pytest.fixture
def tapped(lab: Lab, postgres: Postgres, redis: Redis, webhook_port: int,
           tmp_path: Path) -> Iterator[tuple[Deployment, Path]]:
    """Two web processes (the first on the port the lab registry notifies), a watcher and a tap."""
    env = dashboard_env(tmp_path, lab.docker_host) | {
        "DATABASE_URL": postgres.new_database(), "REDIS_URL": redis.url, "ARCHVIZ_REGISTRY_TOKEN": lab.webhook_token,
    }
    tap = Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock")
    scaled = Deployment(env, [webhook_port, free_port()], [["watch"], ["tap", "--listen", f"unix://{tap}"]])
    try:
        scaled.start()
        deadline = time.monotonic() + 30
        while not tap.exists():
            assert time.monotonic() < deadline, "the tap did not listen"
            time.sleep(0.05)
        yield scaled, tap
    finally:
        scaled.stop()
        tap.unlink(missing_ok=True)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def missing_image(lab: Lab) -> str:
    """A reference the lab registry holds and the lab daemon does not: `docker run` of it pulls first."""
    reference = f"{lab.registry_address}/scaled/app{uuid.uuid4().hex[:6]}:1"
    client = lab.client()
    try:
        client.images.get(lab.base_image).tag(reference)
        for line in client.api.push(reference.rsplit(":", 1)[0], tag="1", stream=True, decode=True):
            assert "error" not in line, line
        client.images.remove(reference)
    finally:
        client.close()
    return reference


def test_two_web_processes_stream_one_diagram_and_a_late_browser_is_shown_it(
        lab: Lab, tapped: tuple[Deployment, Path]) -> None:
    in_own_loop(run_missing_image_and_compare(lab, *tapped))


async def run_missing_image_and_compare(lab: Lab, deployment: Deployment, tap: Path) -> None:
    reference = await asyncio.to_thread(missing_image, lab)
    first, second = deployment.ports
    async with LiveClient(first) as one, LiveClient(second) as other:
        await one.until("archviz is watching")  # the watcher is connected (and published) before the run starts
        await asyncio.sleep(IDLE_SECONDS)
        result = await asyncio.to_thread(docker, f"unix://{tap}", "run", "--rm", reference, "echo", "hi")
        assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
        assert "Unable to find image" in result.stderr
        for client in (one, other):
            await client.until("remove container")
            await client.settle()

        # Every publication both were sent after both had connected is the same, in the same order.
        since = max(one.snapshot()["seq"], other.snapshot()["seq"])
        assert [f for f in one.deltas() if f["seq"] > since] == [f for f in other.deltas() if f["seq"] > since]
        assert one.diagram() == other.diagram()

        # The tap's requests and the daemon's events, stored by two processes, were folded once: the daemon's
        # starting the container is drawn in the box of the command whose request caused it, not guessed.
        diagram = one.diagram()
        (box,) = [i for i in diagram["interactions"] if i["title"].startswith("docker run --rm")]
        labels = [m["label"] for m in diagram["messages"] if m["interaction"] == box["id"]]
        assert labels[0].startswith("types `docker run --rm"), labels
        assert any(label.startswith("create and start task") for label in labels), labels
        assert "exit 0" in labels, labels

        for port in deployment.ports:  # each web process answers for its own sockets
            metrics = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/metrics")
            assert 'archviz_websocket_clients{socket="live"} 1.0' in metrics

        async with LiveClient(second) as late:
            # Nothing else happened meanwhile: the late snapshot is what the others hold, message for message.
            assert late.snapshot()["seq"] == one.deltas()[-1]["seq"]
            assert late.diagram() == one.diagram()
