"""The audit trail against a real distribution 3.1.1 (../shared/bin/registry-v3), run standalone beside the lab:
two users log in with the real docker CLI, one pushes, the other pulls, a tag and a manifest are deleted, and
archviz holds exactly what the registry sent, naming each user and linking the pulled manifest to its blobs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import NotificationSink, free_port, webhook_dashboard
from tests.registry_v3 import RegistryV3, missing

pytestmark = [pytest.mark.lab, pytest.mark.skipif(bool(missing()), reason=missing() or "registry-v3 is here")]
USERS = {"alice": "alice-secret-1", "bob": "bob-secret-2"}
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def dashboard_url(tmp_path: Path) -> Iterator[str]:
    with webhook_dashboard(tmp_path / "dashboard", "v3-token") as url:
        yield url


@pytest.fixture
def registry(dashboard_url: str, tmp_path: Path) -> Iterator[tuple[RegistryV3, NotificationSink]]:
    sink = NotificationSink()
    the_registry = RegistryV3(tmp_path / "registry-v3", free_port(), USERS,
                              (f"{dashboard_url}/hooks/registry/", sink.url), "v3-token")
    the_registry.start()
    yield the_registry, sink
    the_registry.stop()
    sink.server.shutdown()


def docker(lab: Lab, config: Path, *args: str, stdin: str = "") -> str:
    """The real docker CLI against the lab's daemon, with its own config folder (its logins)."""
    env = {**os.environ, "DOCKER_HOST": lab.docker_host, "DOCKER_CONFIG": str(config)}
    done = subprocess.run(["docker", *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def registry_call(registry: RegistryV3, method: str, path: str, user: str) -> dict[str, str]:
    request = urllib.request.Request(f"http://{registry.address}{path}", method=method, headers={
        "Accept": MANIFEST_V2,
        "Authorization": "Basic " + base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(response.headers)


def events(url: str, query: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/registry/events/?limit=1000&{query}", timeout=10) as response:
        return json.load(response)["events"]


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
def test_two_users_push_pull_and_delete_through_distribution_3_and_the_audit_names_each(
        lab: Lab, registry: tuple[RegistryV3, NotificationSink], dashboard_url: str, tmp_path: Path) -> None:
    the_registry, sink = registry
    repository = f"v3/app{uuid.uuid4().hex[:6]}"
    image = f"{the_registry.address}/{repository}"
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    context = tmp_path / "context"
    context.mkdir()
    # A layer of its own, so that bob's pull downloads it (the base's layer is in the daemon already).
    (context / "Dockerfile").write_text(f"FROM {lab.base_image}\nRUN echo {repository} > /name\n")
    docker(lab, alice, "login", the_registry.address, "-u", "alice", "--password-stdin", stdin=USERS["alice"])
    docker(lab, alice, "build", "-q", "-t", f"{image}:1", "-t", f"{image}:2", str(context))
    docker(lab, alice, "push", f"{image}:1")
    docker(lab, alice, "push", f"{image}:2")
    docker(lab, bob, "login", the_registry.address, "-u", "bob", "--password-stdin", stdin=USERS["bob"])
    docker(lab, bob, "rmi", f"{image}:1", f"{image}:2")
    docker(lab, bob, "pull", f"{image}:1")
    registry_call(the_registry, "DELETE", f"/v2/{repository}/manifests/2", "alice")  # a tag delete
    digest = registry_call(the_registry, "HEAD", f"/v2/{repository}/manifests/1", "bob")["Docker-Content-Digest"]
    registry_call(the_registry, "DELETE", f"/v2/{repository}/manifests/{digest}", "alice")

    deadline = time.monotonic() + 60
    while True:
        stored = [event["event_id"] for event in events(dashboard_url, f"repository={repository}")]
        sent = sink.ids({repository})
        if sent and sorted(stored) == sorted(sent) and any(
                e["action"] == "delete" and e["target"]["repository"] == repository and not e["target"].get("digest")
                and e["target"].get("tag") == "1" for e in sink.events.values()):
            break
        assert time.monotonic() < deadline, f"stored {len(stored)}, sent {len(sent)}"
        time.sleep(0.25)

    by_actor = {user: events(dashboard_url, f"repository={repository}&actor={user}") for user in USERS}
    assert {(e["action"], e["target_kind"]) for e in by_actor["alice"]} >= {
        ("push", "blob"), ("push", "manifest"), ("delete", "tag"), ("delete", "manifest")}
    assert {e["action"] for e in by_actor["bob"]} == {"pull"}
    assert len(by_actor["alice"]) + len(by_actor["bob"]) == len(stored)
    pulled = [e for e in by_actor["bob"] if e["target_kind"] == "manifest" and not e["existence_check"]]
    assert pulled and all(len(e["references"]) == 3 for e in pulled)  # the config and two layers
    blobs = events(dashboard_url, f"repository={repository}&manifest={pulled[0]['digest']}&actor=bob&checks=hide")
    referenced = {r["digest"] for r in pulled[0]["references"]}
    assert blobs and {e["digest"] for e in blobs} <= referenced
    with urllib.request.urlopen(f"{dashboard_url}/api/registry/unknown/", timeout=10) as response:
        assert json.load(response)["count"] == 0
