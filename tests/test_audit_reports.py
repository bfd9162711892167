"""The audit reports a team asks for, over events stored the way the webhooks store them: who pulled a digest
(from which address, with which user agent) and what each actor did over a range, as JSON and as CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.test import Client

from archviz.audit.ingest import ingest
from archviz.sources import harbor
from archviz.sources.registry import read_delivery

pytestmark = pytest.mark.django_db
APP = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER = "docker/28.2.2 go/go1.24 os/linux"


def event(number: int, action: str, actor: str, addr: str, *, digest: str = APP, method: str = "GET",
          agent: str = DOCKER, minute: int = 0) -> dict:
    return {"id": f"e{number}", "timestamp": f"2026-11-20T10:{minute:02d}:{number % 60:02d}Z", "action": action,
            "target": {"mediaType": MANIFEST, "repository": "lab/app", "digest": digest, "tag": "1"},
            "request": {"addr": f"{addr}:5000", "method": method, "useragent": agent}, "actor": {"name": actor}}


@pytest.fixture
def trail() -> None:
    """alice pushes; bob pulls twice from one machine and once from another, and checks once (HEAD); ci pulls
    another digest; an anonymous client pulls; Harbor reports a pull of the same digest by a robot."""
    events = [
        event(1, "push", "alice", "10.0.0.1", method="PUT"),
        event(2, "pull", "bob", "10.0.0.2"),
        event(3, "pull", "bob", "10.0.0.2", minute=5),
        event(4, "pull", "bob", "10.0.0.3", agent="containerd/2.0", minute=6),
        event(5, "pull", "bob", "10.0.0.2", method="HEAD", minute=7),
        event(6, "pull", "ci", "10.0.0.9", digest=OTHER, minute=8),
        event(7, "pull", "", "10.0.0.7", minute=9),
        event(8, "delete", "alice", "10.0.0.1", method="DELETE", minute=30),
    ]
    ingest(read_delivery(json.dumps({"events": events}).encode()), "127.0.0.1")
    harbor_pull = {"type": "PULL_ARTIFACT", "occur_at": 1795171400, "operator": "robot$ci",  # 2026-11-20T10:43:20Z
                   "event_data": {"resources": [{"digest": APP, "tag": "1", "resource_url": "harbor.lab/lab/app:1"}],
                                  "repository": {"name": "app", "namespace": "lab", "repo_full_name": "lab/app"}}}
    ingest(harbor.read_payload(json.dumps(harbor_pull).encode()), "127.0.0.1")


def test_who_pulled_a_digest_lists_each_actor_address_and_user_agent_without_existence_checks(
        client: Client, trail: None) -> None:
    answer = client.get(f"/api/registry/reports/pulls/?digest={APP}").json()
    assert [(p["actor"], p["addr"], p["useragent"], p["source"], p["pulls"]) for p in answer["pulls"]] == [
        ("robot$ci", "", "", "harbor", 1),
        ("", "10.0.0.7", DOCKER, "registry", 1),
        ("bob", "10.0.0.3", "containerd/2.0", "registry", 1),
        ("bob", "10.0.0.2", DOCKER, "registry", 2),
    ]
    bob = answer["pulls"][3]
    assert (bob["first"], bob["last"]) == ("2026-11-20T10:00:02.000000000Z", "2026-11-20T10:05:03.000000000Z")


def test_who_pulled_takes_the_audit_filters_and_needs_a_digest(client: Client, trail: None) -> None:
    answer = client.get(f"/api/registry/reports/pulls/?digest={APP}&source=registry&until=2026-11-20T10:05:30Z")
    assert [(p["actor"], p["pulls"]) for p in answer.json()["pulls"]] == [("bob", 2)]
    missing = client.get("/api/registry/reports/pulls/")
    assert missing.status_code == 400 and "digest" in missing.json()["error"]
    assert client.get(f"/api/registry/reports/pulls/?digest={APP}&action=push").status_code == 400
    assert client.get(f"/api/registry/reports/pulls/?digest={APP}&colour=red").status_code == 400


def test_who_pulled_as_csv(client: Client, trail: None) -> None:
    response = client.get(f"/api/registry/reports/pulls.csv?digest={APP}")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="registry-pulls.csv"' in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(row["actor"], row["addr"], row["pulls"]) for row in table][-1] == ("bob", "10.0.0.2", "2")


def test_per_actor_activity_over_a_range(client: Client, trail: None) -> None:
    actors = client.get("/api/registry/reports/actors/?since=2026-11-20T10:00:00Z&until=2026-11-20T10:10:00Z"
                        ).json()["actors"]
    assert [(a["actor"], a["total"], a["push"], a["pull"], a["delete"], a["checks"]) for a in actors] == [
        ("bob", 4, 0, 3, 0, 1),
        ("", 1, 0, 1, 0, 0),
        ("alice", 1, 1, 0, 0, 0),
        ("ci", 1, 0, 1, 0, 0),
    ]
    everything = {a["actor"]: a for a in client.get("/api/registry/reports/actors/").json()["actors"]}
    assert (everything["alice"]["push"], everything["alice"]["delete"]) == (1, 1)
    assert everything["robot$ci"]["pull"] == 1 and everything["alice"]["repositories"] == 1


def test_per_actor_activity_as_csv_has_one_column_per_action(client: Client, trail: None) -> None:
    response = client.get("/api/registry/reports/actors.csv?source=registry")
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(table[0])[:6] == ["actor", "total", "push", "pull", "mount", "delete"]
    assert {row["actor"]: row["total"] for row in table} == {"bob": "4", "alice": "2", "ci": "1", "": "1"}


def test_the_reports_are_documented() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for path in ("/api/registry/reports/pulls/", "/api/registry/reports/actors/", "reports/pulls.csv",
                 "reports/actors.csv"):
        assert path in readme
