"""The audit trail against the lab's distribution 3.1.1 registry (../shared/bin/registry-v3), which the lab starts
beside Debian's 2.8.2 ones where the shared folder holds it: two users log in with the real docker CLI, one pushes,
the other pulls, a tag and a manifest are deleted, and archviz holds exactly what the registry sent, naming each
user and linking the pulled manifest to its blobs. Without the binary the lab says why and runs without it."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from archviz.lab import Lab
from archviz.lab.processes import registry_v3_missing
from tests.conftest import Dashboard, NotificationSink, free_port
from tests.test_registry_lab import docker, events, login, registry_call, two_users

pytestmark = pytest.mark.lab
needs_v3 = pytest.mark.skipif(bool(registry_v3_missing()), reason=registry_v3_missing() or "registry-v3 is here")


@needs_v3
@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
def test_two_users_push_pull_and_delete_through_the_labs_distribution_3_and_the_audit_names_each(
        lab: Lab, registry_dashboard: Dashboard, sink: NotificationSink, tmp_path: Path) -> None:
    assert lab.status()["v3_registry"] is not None and lab.users == ("alice", "bob")
    repository = f"v3/app{uuid.uuid4().hex[:6]}"
    image = f"{lab.v3_registry_address}/{repository}"
    alice, bob, context = two_users(lab, tmp_path, repository)
    login(lab, alice, lab.v3_registry_address, "alice")
    docker(lab, alice, "build", "-q", "-t", f"{image}:1", "-t", f"{image}:2", str(context))
    docker(lab, alice, "push", f"{image}:1")
    docker(lab, alice, "push", f"{image}:2")
    login(lab, bob, lab.v3_registry_address, "bob")
    docker(lab, bob, "rmi", f"{image}:1", f"{image}:2")
    docker(lab, bob, "pull", f"{image}:1")
    v3 = lab.v3_registry_address
    registry_call(lab, v3, "DELETE", f"/v2/{repository}/manifests/2", "alice")  # a tag delete
    digest = registry_call(lab, v3, "HEAD", f"/v2/{repository}/manifests/1", "bob")["Docker-Content-Digest"]
    registry_call(lab, v3, "DELETE", f"/v2/{repository}/manifests/{digest}", "alice")

    url = registry_dashboard.url
    deadline = time.monotonic() + 60
    while True:
        stored = [event["event_id"] for event in events(url, f"repository={repository}")]
        sent = sink.ids({repository})
        if sent and sorted(stored) == sorted(sent) and any(
                e["action"] == "delete" and e["target"]["repository"] == repository and not e["target"].get("digest")
                and e["target"].get("tag") == "1" for e in sink.events.values()):
            break
        assert time.monotonic() < deadline, f"stored {len(stored)}, sent {len(sent)}"
        time.sleep(0.25)

    by_actor = {user: events(url, f"repository={repository}&actor={user}") for user in lab.users}
    assert {(e["action"], e["target_kind"]) for e in by_actor["alice"]} >= {
        ("push", "blob"), ("push", "manifest"), ("delete", "tag"), ("delete", "manifest")}
    assert {e["action"] for e in by_actor["bob"]} == {"pull"}
    assert len(by_actor["alice"]) + len(by_actor["bob"]) == len(stored)
    pulled = [e for e in by_actor["bob"] if e["target_kind"] == "manifest" and not e["existence_check"]]
    assert pulled and all(len(e["references"]) == 3 for e in pulled)  # the config and two layers
    blobs = events(url, f"repository={repository}&manifest={pulled[0]['digest']}&actor=bob&checks=hide")
    referenced = {r["digest"] for r in pulled[0]["references"]}
    assert blobs and {e["digest"] for e in blobs} <= referenced
    with urllib.request.urlopen(f"{url}/api/registry/unknown/", timeout=10) as response:
        assert json.load(response)["count"] == 0
    with urllib.request.urlopen(f"{url}/api/registry/chart?repository={repository}", timeout=10) as response:
        assert sorted(json.load(response)["actors"]["names"]) == ["alice", "bob"]


def test_without_the_shared_folder_the_lab_says_why_it_runs_no_distribution_3_and_runs_the_rest(lab: Lab) -> None:
    absent = Path("/nonexistent/shared/bin/registry-v3")
    without = Lab(lab.root, lab.registry_port, lab.auth_registry_port, lab.webhooks, free_port(),
                  registry_v3=absent)
    said: list[str] = []
    without.up(say=said.append)
    reason = f"distribution 3.1.1 is not at {absent} (the shared folder beside the project)"
    assert any(line.startswith("no distribution 3 registry: ") and reason in line for line in said), said
    status = without.status()
    assert reason in status["v3_registry_missing"]
    assert status["daemon"] and status["registry"] and status["auth_registry"]
