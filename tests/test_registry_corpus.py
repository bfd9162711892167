"""A registry operator's check, against `manage.py serve` over HTTP: a corpus of distribution-3-shaped envelopes
(media type events.v2+json, one event each, references on manifests, a repository delete with neither tag nor
digest, tag deletes, four users), each POSTed twice as a registry retrying would, is answered 2xx every time,
listed once per event, and filtered by actor exactly."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import webhook_dashboard

TOKEN = "corpus-token-7f3a"
V2 = "application/vnd.docker.distribution.events.v2+json"
RECORDED = [json.loads(delivery["body"]) for delivery in
            json.loads((Path(__file__).parent / "data" / "registry" / "v3_session.json").read_text())]


def envelope(event: dict, **changes: object) -> dict:
    return {"events": [{**json.loads(json.dumps(event)), "id": str(uuid.uuid4()), **changes}]}


def corpus() -> list[dict]:
    """What registry-v3 sent (alice and bob), the same again as carol and dave, and the deletes v3 sends."""
    recorded = [body["events"][0] for body in RECORDED]
    again = [envelope(event, actor={"name": name}) for name in ("carol", "dave") for event in recorded]
    delete = recorded[-1]
    repository_delete = envelope(delete, actor={"name": "dave"}, target={
        "mediaType": "", "digest": "", "size": 0, "repository": "lab/app"})
    tag_delete = envelope(delete, actor={"name": "carol"}, target={
        "mediaType": "", "digest": "", "size": 0, "repository": "lab/base", "tag": "old"})
    return [*RECORDED, *again, repository_delete, tag_delete]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with webhook_dashboard(tmp_path_factory.mktemp("corpus"), TOKEN) as url:
        yield url


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(f"{url}/hooks/registry/", data=body, method="POST", headers={
        "Content-Type": V2, "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def listed(url: str, query: str = "") -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/registry/events/?limit=1000{query}", timeout=10) as response:
        page = json.load(response)
    assert page["next"] is None
    return page["events"]


def test_every_event_posted_twice_is_answered_2xx_and_listed_once(served: str) -> None:
    bodies = [json.dumps(item, indent=3).encode() for item in corpus()]
    statuses = [post(served, body) for body in bodies for _ in range(2)]
    assert all(200 <= status < 300 for status in statuses), statuses
    sent = [json.loads(body)["events"][0] for body in bodies]
    ids = [event["event_id"] for event in listed(served)]
    assert sorted(ids) == sorted(event["id"] for event in sent)
    for name in ("alice", "bob", "carol", "dave"):
        mine = [event["event_id"] for event in listed(served, f"&actor={name}")]
        assert sorted(mine) == sorted(event["id"] for event in sent if event["actor"].get("name") == name), name
    deletes = {(e["repository"], e["target_kind"], e["tag"]) for e in listed(served, "&action=delete&actor=dave")}
    assert ("lab/app", "repository", "") in deletes and ("lab/base", "tag", "1") in deletes
    with urllib.request.urlopen(f"{served}/api/registry/unknown/", timeout=10) as response:
        assert json.load(response)["count"] == 0
