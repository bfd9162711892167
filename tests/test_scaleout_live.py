"""Tried as an operator scales out: PostgreSQL and Redis, two `serve --no-watch` web processes (one taking the lab
registry's notifications), one `watch` and one `tap`, each storing what it sees. A `docker run` of a missing image
through the tap reaches browsers on both web processes as the same publications, message for message, even after
they sat idle longer than Redis's read timeout, drawn in one box however many processes stored its parts; a browser
that connects afterwards is shown exactly that diagram in its snapshot (live == reload)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import ROOT, dashboard_env, free_port, start_serve
from tests.scaleout_helpers import LiveClient, Postgres, Redis, in_own_loop
from tests.test_tap import docker

pytestmark = [pytest.mark.scaleout, pytest.mark.lab]
# Past redis-py 8's default read timeout and channels_redis's blocking receive (5 s each): an idle socket used to
# be closed with 1011 there.
IDLE_SECONDS = 6.5


class Deployment:
    """Two web processes, a watcher and a tap, on one PostgreSQL database and one Redis."""

    def __init__(self, env: dict[str, str], webhook_port: int) -> None:
        self.env = env
        self.ports = [webhook_port, free_port()]
        self.tap = Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock")
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True)
        for command in (["watch"], ["tap", "--listen", f"unix://{self.tap}"]):
            self.processes.append(subprocess.Popen([sys.executable, "manage.py", *command], cwd=ROOT, env=self.env,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.processes += [start_serve(port, self.env, "--no-watch") for port in self.ports]
        deadline = time.monotonic() + 30
        while not self.tap.exists():
            assert time.monotonic() < deadline, "the tap did not listen"
            time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.tap.unlink(missing_ok=True)


@pytest.fixture
def deployment(lab: Lab, postgres: Postgres, redis: Redis, webhook_port: int, tmp_path: Path) -> Iterator[Deployment]:
    env = dashboard_env(tmp_path, lab.docker_host) | {
        "DATABASE_URL": postgres.new_database(), "REDIS_URL": redis.url, "ARCHVIZ_REGISTRY_TOKEN": lab.webhook_token,
    }
    scaled = Deployment(env, webhook_port)
    try:
        scaled.start()
        yield scaled
    finally:
        scaled.stop()


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


def test_two_web_processes_stream_one_diagram_and_a_late_browser_is_shown_it(lab: Lab,
                                                                            deployment: Deployment) -> None:
    in_own_loop(run_missing_image_and_compare(lab, deployment))


async def run_missing_image_and_compare(lab: Lab, deployment: Deployment) -> None:
    reference = await asyncio.to_thread(missing_image, lab)
    first, second = deployment.ports
    async with LiveClient(first) as one, LiveClient(second) as other:
        await one.until("archviz is watching")  # the watcher is connected (and published) before the run starts
        await asyncio.sleep(IDLE_SECONDS)
        result = await asyncio.to_thread(docker, f"unix://{deployment.tap}", "run", "--rm", reference, "echo", "hi")
        assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
        assert "Unable to find image" in result.stderr
        for client in (one, other):
            await client.until("remove container")
            await client.settle()

        # Every publication both were sent after both had connected is the same, in the same order.
        since = max(one.frames[0]["seq"], other.frames[0]["seq"])
        assert [f for f in one.deltas() if f["seq"] > since] == [f for f in other.deltas() if f["seq"] > since]
        assert one.diagram() == other.diagram()

        # The tap's requests, the daemon's events and the registry's notifications, stored by three processes,
        # were folded once: the run is one box, typed by the User, with nothing inferred.
        diagram = one.diagram()
        (box,) = [i for i in diagram["interactions"] if i["title"].startswith("docker run --rm")]
        drawn = [m for m in diagram["messages"] if m["interaction"] == box["id"]]
        labels = [m["label"] for m in drawn]
        assert labels[0].startswith("types `docker run --rm"), labels
        assert any(label.startswith("create container") for label in labels), labels
        assert "remove container" in " ".join(labels), labels
        assert any(m["receiver"].startswith("registry:") for m in drawn), labels
        assert not any(m["inferred"] for m in drawn), labels

        for port in deployment.ports:  # each web process answers for its own sockets
            metrics = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/metrics")
            assert 'archviz_websocket_clients{socket="live"} 1.0' in metrics

        async with LiveClient(second) as late:
            # Nothing else happened meanwhile: the late snapshot is what the others hold, message for message.
            assert late.frames[0]["seq"] == one.deltas()[-1]["seq"]
            assert late.diagram() == one.diagram()
