"""The audit trail against the lab's real registry, whose notifications go to archviz and to a sink."""

from __future__ import annotations

import json
import signal
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
