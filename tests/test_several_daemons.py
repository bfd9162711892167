"""A team's daemons watched from one dashboard: with ARCHVIZ_DOCKER_HOSTS naming the lab's daemon and a second one,
`serve` watches both; each is its own host in the inventory, its own lifeline in the diagram, and its own check in
/readyz."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import ROOT, Dashboard, dashboard_env, free_port, start_serve
from tests.scaleout_helpers import LiveClient, in_own_loop

pytestmark = [pytest.mark.lab]


@pytest.fixture
def second_daemon() -> Iterator[Lab]:
    """A second private dockerd (no registry, no images), as on a team's second build host."""
    other = Lab(Path(tempfile.mkdtemp(prefix="avd2-", dir="/tmp")), registry_port=free_port(),
                auth_registry_port=free_port())
    other.start_daemon()
    try:
        yield other
    finally:
        other.stop_daemon()


@pytest.fixture
def both_watched(lab: Lab, second_daemon: Lab, tmp_path: Path) -> Iterator[Dashboard]:
    env = dashboard_env(tmp_path, lab.docker_host) | {
        "ARCHVIZ_DOCKER_HOSTS": f"{lab.docker_host},{second_daemon.docker_host}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    dashboard = Dashboard(f"http://127.0.0.1:{port}", start_serve(port, env), tmp_path, port, env)
    yield dashboard
    dashboard.stop()


def get_json(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def eventually(check, what: str, timeout: float = 20):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return found


def test_two_daemons_are_two_hosts_in_the_inventory_and_two_lifelines(lab: Lab, second_daemon: Lab,
                                                                      both_watched: Dashboard) -> None:
    hosts = [lab.docker_host, second_daemon.docker_host]
    def both_ready() -> dict:
        ready = get_json(f"{both_watched.url}/readyz")
        checked = {name for name in ready["checks"] if name.startswith("daemon ")}
        return ready if ready["ready"] and checked == {f"daemon {host}" for host in hosts} else {}

    eventually(both_ready, "both daemons watched and reachable, each its own check in /readyz")

    volumes = {host: f"team-{uuid.uuid4().hex[:6]}" for host in hosts}
    for daemon, host in ((lab, lab.docker_host), (second_daemon, second_daemon.docker_host)):
        client = daemon.client()
        try:
            client.volumes.create(volumes[host])
        finally:
            client.close()

    def inventoried() -> dict:
        inventory = get_json(f"{both_watched.url}/api/inventory/")["hosts"]
        names = {host: {v.get("name") for v in inventory.get(host, {}).get("volumes", [])} for host in hosts}
        return inventory if all(volumes[host] in names[host] for host in hosts) else {}

    inventory = eventually(inventoried, "each daemon's volume in its own host's inventory")
    assert volumes[second_daemon.docker_host] not in {v.get("name") for v in inventory[lab.docker_host]["volumes"]}

    diagram = in_own_loop(snapshot(both_watched.port))
    daemons = {p["id"] for p in diagram["participants"] if p["role"] == "daemon"}
    assert {f"daemon:{host}" for host in hosts} <= daemons
    for host, volume in volumes.items():
        assert [m for m in diagram["messages"] if volume in m["label"] and f"daemon:{host}" in (m["sender"],
                                                                                              m["receiver"])]


async def snapshot(port: int) -> dict:
    async with LiveClient(port) as client:
        return client.diagram()
