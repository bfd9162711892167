"""The audit trail against the lab's real registries (Debian's distribution 2.8.2, the one open to all and the one
that asks for a login), whose notifications go to archviz and to a sink."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import Dashboard, NotificationSink

pytestmark = pytest.mark.lab
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def stored_ids(dashboard: Dashboard, repository: str) -> list[str]:
    url, ids = f"{dashboard.url}/api/registry/events/?repository={repository}", []
    while url:
        with urllib.request.urlopen(url, timeout=10) as response:
            page = json.load(response)
        ids += [event["event_id"] for event in page["events"]]
        url = page["next"] and dashboard.url + page["next"]
    return ids


def settle(dashboard: Dashboard, sink: NotificationSink, repositories: set[str], seconds: float = 60) -> None:
    """Wait until archviz holds exactly what the registry sent the sink for these repositories."""
    deadline = time.monotonic() + seconds
    while True:
        stored = [i for repository in repositories for i in stored_ids(dashboard, repository)]
        sent = sink.ids(repositories)
        if sent and sorted(stored) == sorted(sent):
            return
        assert time.monotonic() < deadline, f"stored {len(stored)} ({len(set(stored))} distinct), sent {len(sent)}"
        time.sleep(0.25)


def docker(lab: Lab, config: Path, *args: str, stdin: str = "") -> str:
    """The real docker CLI against the lab's daemon, with its own config folder (its logins)."""
    env = {**os.environ, "DOCKER_HOST": lab.docker_host, "DOCKER_CONFIG": str(config)}
    done = subprocess.run(["docker", *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def registry_call(lab: Lab, address: str, method: str, path: str, user: str) -> dict[str, str]:
    """A request of the registry API to a lab registry that asks for a login, as one of the lab's users; its
    answer's headers."""
    request = urllib.request.Request(f"http://{address}{path}", method=method, headers={
        "Accept": MANIFEST_V2,
        "Authorization": "Basic " + base64.b64encode(f"{user}:{lab.password(user)}".encode()).decode()})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(response.headers)


def events(url: str, query: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/registry/events/?limit=1000&{query}", timeout=10) as response:
        return json.load(response)["events"]


def push(lab: Lab, repository: str, tag: str = "1") -> None:
    client = lab.client()
    try:
        image = client.images.get(lab.base_image)
        target = f"{lab.registry_address}/{repository}"
        image.tag(target, tag)
        for line in client.api.push(target, tag=tag, stream=True, decode=True):
            assert "error" not in line, line
    finally:
        client.close()


def test_pushes_pulls_mounts_and_deletes_are_stored_once_each(registry_dashboard: Dashboard, sink: NotificationSink,
                                                             lab: Lab) -> None:
    first, second = f"audit/a{uuid.uuid4().hex[:6]}", f"audit/b{uuid.uuid4().hex[:6]}"
    push(lab, first)
    client = lab.client()
    reference = f"{lab.registry_address}/{first}:1"
    client.images.remove(reference)
    client.images.pull(reference)
    client.close()
    push(lab, second)  # the same layers in another repository: the daemon mounts them
    request = urllib.request.Request(f"http://{lab.registry_address}/v2/{second}/manifests/1", method="HEAD",
                                     headers={"Accept": MANIFEST_V2})
    with urllib.request.urlopen(request) as response:
        digest = response.headers["Docker-Content-Digest"]
    delete = urllib.request.Request(f"http://{lab.registry_address}/v2/{second}/manifests/{digest}", method="DELETE")
    with urllib.request.urlopen(delete) as response:
        assert response.status == 202

    settle(registry_dashboard, sink, {first, second})
    with urllib.request.urlopen(f"{registry_dashboard.url}/api/registry/events/?repository={second}") as response:
        events = json.load(response)["events"]
    actions = {(e["action"], e["target_kind"]) for e in events}
    assert {("mount", "blob"), ("delete", "manifest"), ("push", "manifest")} <= actions
    with urllib.request.urlopen(f"{registry_dashboard.url}/api/registry/events/?repository={first}") as response:
        events = json.load(response)["events"]
    # What the daemon asks depends on what it already holds (a HEAD may be all a pull needs); each pull is
    # marked as an existence check exactly when it was a HEAD.
    pulls = [e for e in events if e["action"] == "pull"]
    assert pulls and all(e["existence_check"] == (e["request_method"] == "HEAD") for e in pulls)


def test_a_dashboard_killed_during_a_burst_of_pushes_ends_up_with_exactly_what_was_sent(
    registry_dashboard: Dashboard, sink: NotificationSink, lab: Lab,
) -> None:
    repositories = {f"burst/r{number}-{uuid.uuid4().hex[:6]}" for number in range(6)}
    pusher = threading.Thread(target=lambda: [push(lab, repository) for repository in sorted(repositories)])
    pusher.start()
    deadline = time.monotonic() + 30
    while not sink.ids(repositories):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    registry_dashboard.process.send_signal(signal.SIGKILL)
    registry_dashboard.process.wait()
    time.sleep(1.5)  # the registry keeps pushing and keeps failing to deliver
    registry_dashboard.start()
    pusher.join(timeout=120)
    settle(registry_dashboard, sink, repositories, seconds=90)
    stored = [i for repository in repositories for i in stored_ids(registry_dashboard, repository)]
    assert len(stored) == len(set(stored)) == len(sink.ids(repositories)) >= 6 * 5


@pytest.mark.browser
def test_the_audit_page_filters_charts_and_exports_what_the_registry_saw(chromium, registry_dashboard: Dashboard,
                                                                        sink: NotificationSink, lab: Lab) -> None:
    repository = f"audit/page{uuid.uuid4().hex[:6]}"
    push(lab, repository)
    settle(registry_dashboard, sink, {repository})
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{registry_dashboard.url}/registry/")
    page.fill("input[name=repository]", repository)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/registry/?*repository={repository.replace('/', '%2F')}*")
    rows = page.locator("table.audit-table tbody tr")
    assert rows.count() == len(sink.ids({repository}))
    assert page.locator("table.audit-table td:nth-child(3)").all_inner_texts() == [repository] * rows.count()
    assert page.locator("span.badge", has_text="existence check").count() >= 1
    page.wait_for_selector('.audit-chart[data-chart="repositories"] canvas')
    names = page.locator('.audit-chart[data-chart="repositories"] .chart-numbers tbody th').all_text_contents()
    assert names == [repository]
    assert f"repository={repository.replace('/', '%2F')}" in page.get_attribute("a:has-text('CSV')", "href")
    with page.expect_download() as download:
        page.click("a:has-text('CSV')")
    text = Path(download.value.path()).read_text()
    assert text.count(repository) == rows.count()
    page.close()


def two_users(lab: Lab, tmp_path: Path, repository: str) -> tuple[Path, Path, Path]:
    """alice's and bob's docker config folders, and a build context for `repository` whose image has a layer of its
    own (so that bob's pull downloads it: the base's layer is in the daemon already)."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {lab.base_image}\nRUN echo {repository} > /name\n")
    return tmp_path / "alice", tmp_path / "bob", context


def login(lab: Lab, home: Path, address: str, user: str) -> None:
    docker(lab, home, "login", address, "-u", user, "--password-stdin", stdin=lab.password(user))


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
def test_two_users_push_pull_and_delete_through_the_registry_with_a_login_and_the_audit_names_each(
        lab: Lab, registry_dashboard: Dashboard, sink: NotificationSink, tmp_path: Path) -> None:
    assert lab.users == ("alice", "bob")
    address = lab.auth_registry_address
    repository = f"team/app{uuid.uuid4().hex[:6]}"
    image = f"{address}/{repository}"
    alice, bob, context = two_users(lab, tmp_path, repository)
    login(lab, alice, address, "alice")
    docker(lab, alice, "build", "-q", "-t", f"{image}:1", str(context))
    docker(lab, alice, "push", f"{image}:1")
    login(lab, bob, address, "bob")
    docker(lab, bob, "rmi", f"{image}:1")
    docker(lab, bob, "pull", f"{image}:1")
    docker(lab, bob, "tag", f"{image}:1", f"{image}:2")
    docker(lab, bob, "push", f"{image}:2")
    # The docker CLI deletes nothing in a registry: alice asks the registry API, as a cleanup script would.
    digest = registry_call(lab, address, "HEAD", f"/v2/{repository}/manifests/1", "alice")["Docker-Content-Digest"]
    registry_call(lab, address, "DELETE", f"/v2/{repository}/manifests/{digest}", "alice")

    deadline = time.monotonic() + 60
    while not any(e["action"] == "delete" for e in sink.sent({repository}).values()):
        assert time.monotonic() < deadline, "the registry sent no delete"
        time.sleep(0.1)
    settle(registry_dashboard, sink, {repository})
    url = registry_dashboard.url
    stored = events(url, f"repository={repository}")
    by_actor = {user: events(url, f"repository={repository}&actor={user}") for user in lab.users}
    assert {(e["action"], e["target_kind"]) for e in by_actor["alice"]} >= {
        ("push", "blob"), ("push", "manifest"), ("delete", "manifest")}
    assert {(e["action"], e["target_kind"]) for e in by_actor["bob"]} >= {("pull", "blob"), ("push", "manifest")}
    assert ("delete", "manifest") not in {(e["action"], e["target_kind"]) for e in by_actor["bob"]}
    assert all(e["actor"] == user for user, found in by_actor.items() for e in found)
    assert len(by_actor["alice"]) + len(by_actor["bob"]) == len(stored)
    # Each event names exactly the user the registry said it was.
    sent = {i: e["actor"]["name"] for i, e in sink.sent({repository}).items()}
    assert {e["event_id"]: e["actor"] for e in stored} == sent
    with urllib.request.urlopen(f"{url}/api/registry/chart?repository={repository}", timeout=10) as response:
        assert sorted(json.load(response)["actors"]["names"]) == ["alice", "bob"]
