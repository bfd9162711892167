"""A team's daemons watched from one dashboard: with ARCHVIZ_DOCKER_HOSTS naming the lab's daemon and a second one,
`serve` watches both; each is its own host in the inventory, its own lifeline in the diagram, and its own check in
/readyz.

The second daemon is a team's build host: it listens on TCP (loopback here) with TLS and takes only clients whose
certificate its CA signed (dockerd --tlsverify). archviz reaches it with the folder ARCHVIZ_DOCKER_HOSTS gives it
(`?tls=DIR`); a stranger with no certificate, an impostor with one from another CA, and a client that forgot TLS
are refused by the daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from docker.errors import DockerException
from docker.tls import TLSConfig

from archviz.daemons import open_client
from archviz.docker_hosts import parse_hosts
from archviz.lab import Lab
from archviz.watcher import daemon_unreachable_reason
from tests.certificates import make_pki
from tests.conftest import ROOT, Dashboard, dashboard_env, free_port, start_serve
from tests.scaleout_helpers import LiveClient, in_own_loop

pytestmark = [pytest.mark.lab]


@dataclass(frozen=True)
class TeamCertificates:
    """The build host's CA and its certificate for 127.0.0.1, as dockerd's --tlscacert/--tlscert/--tlskey take
    them; and folders laid out as DOCKER_CERT_PATH: archviz's (a certificate that CA signed) and an impostor's (one
    another CA signed)."""

    daemon: Path
    archviz: Path
    impostor: Path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TeamCertificates:
    made = tmp_path_factory.mktemp("team-tls")
    make_pki(made, "archviz")
    layouts = {"daemon": {"ca.pem": "ca.pem", "server-cert.pem": "server.pem", "server-key.pem": "server-key.pem"},
               "archviz": {"ca.pem": "ca.pem", "cert.pem": "archviz.pem", "key.pem": "archviz-key.pem"},
               "impostor": {"ca.pem": "ca.pem", "cert.pem": "impostor.pem", "key.pem": "impostor-key.pem"}}
    for folder, files in layouts.items():
        (made / folder).mkdir()
        for name, source in files.items():
            shutil.copy(made / source, made / folder / name)
    return TeamCertificates(made / "daemon", made / "archviz", made / "impostor")


@pytest.fixture(scope="module")
def second_daemon(certificates: TeamCertificates) -> Iterator[Lab]:
    """A second private dockerd (no registry, no images), as on a team's build host: on a unix socket for the
    test's own setup, and on a loopback TCP port with TLS for archviz."""
    other = Lab(Path(tempfile.mkdtemp(prefix="avd2-", dir="/tmp")), registry_port=free_port(),
                auth_registry_port=free_port(), tls_port=free_port(), tls_folder=certificates.daemon)
    other.start_daemon()
    try:
        yield other
    finally:
        other.down(say=lambda line: None)  # the daemon, and the network guard it started


@pytest.fixture
def both_watched(lab: Lab, second_daemon: Lab, certificates: TeamCertificates, tmp_path: Path) -> Iterator[Dashboard]:
    env = dashboard_env(tmp_path, lab.docker_host) | {
        "ARCHVIZ_DOCKER_HOSTS": f"{lab.docker_host},{second_daemon.tls_docker_host}?tls={certificates.archviz}"}
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
    hosts = [lab.docker_host, second_daemon.tls_docker_host]
    def both_ready() -> dict:
        ready = get_json(f"{both_watched.url}/readyz")
        checked = {name for name in ready["checks"] if name.startswith("daemon ")}
        return ready if ready["ready"] and checked == {f"daemon {host}" for host in hosts} else {}

    eventually(both_ready, "both daemons watched and reachable, each its own check in /readyz")

    volumes = {host: f"team-{uuid.uuid4().hex[:6]}" for host in hosts}
    for daemon, host in ((lab, lab.docker_host), (second_daemon, second_daemon.tls_docker_host)):
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
    assert volumes[second_daemon.tls_docker_host] not in {v.get("name") for v in inventory[lab.docker_host]["volumes"]}

    diagram = in_own_loop(snapshot(both_watched.port))
    daemons = {p["id"] for p in diagram["participants"] if p["role"] == "daemon"}
    assert {f"daemon:{host}" for host in hosts} <= daemons
    for host, volume in volumes.items():
        assert [m for m in diagram["messages"] if volume in m["label"] and f"daemon:{host}" in (m["sender"],
                                                                                              m["receiver"])]


def test_the_build_host_takes_archviz_with_its_certificate_and_refuses_everyone_else(
        second_daemon: Lab, certificates: TeamCertificates, settings: Any) -> None:
    address = second_daemon.tls_docker_host
    settings.ARCHVIZ_DOCKER_HOSTS = parse_hosts([f"{address}?tls={certificates.archviz}"])
    assert daemon_unreachable_reason(address) is None
    client = open_client(address, timeout=5)
    try:
        assert client.version()["ApiVersion"]
    finally:
        client.close()

    # Each stranger trusts the daemon's CA (and only it): the daemon is who refuses them.
    refusals = {
        "alert bad certificate": TLSConfig(ca_cert=str(certificates.archviz / "ca.pem"), verify=True),
        "bad certificate|unknown ca|EOF occurred in violation of protocol": TLSConfig(
            client_cert=(str(certificates.impostor / "cert.pem"), str(certificates.impostor / "key.pem")),
            ca_cert=str(certificates.impostor / "ca.pem"), verify=True),
        "400 Client Error": False,
    }
    for refusal, tls in refusals.items():
        stranger = docker.DockerClient(base_url=address, version="1.41", timeout=5, tls=tls)
        stranger.api.trust_env = False
        try:
            with pytest.raises((DockerException, requests.exceptions.RequestException), match=refusal):
                stranger.ping()
        finally:
            stranger.close()

    settings.ARCHVIZ_DOCKER_HOSTS = parse_hosts([f"{address}?tls={certificates.impostor}"])
    assert "the daemon did not accept archviz's client certificate" in (daemon_unreachable_reason(address) or "")
    settings.ARCHVIZ_DOCKER_HOSTS = parse_hosts([address])
    assert "the daemon speaks TLS there: add ?tls=DIR" in (daemon_unreachable_reason(address) or "")


async def snapshot(port: int) -> dict:
    async with LiveClient(port) as client:
        return client.diagram()
