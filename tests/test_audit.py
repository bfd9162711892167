from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import Client

from archviz.audit.ingest import ingest
from archviz.audit.query import AuditFilter, page, parse_cursor
from archviz.models import AuditEvent
from archviz.query import QueryError
from archviz.sequence import sequence
from archviz.sources.registry import Delivery, RegistryEvent, read_delivery
from tests.recorded import LAB_HOST

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data" / "registry"


def recorded(*names: str) -> list[RegistryEvent]:
    return [event for name in names for envelope in json.loads((DATA / f"{name}.json").read_text())
            for event in read_delivery(json.dumps(envelope).encode()).events]


def store(events: list[RegistryEvent]) -> int:
    return ingest(Delivery(tuple(events), ())).stored


def streamed(response) -> str:  # noqa: ANN001 - a streaming response with an async iterator
    async def collect() -> bytes:
        return b"".join([chunk if isinstance(chunk, bytes) else chunk.encode()
                         async for chunk in response.streaming_content])

    return async_to_sync(collect)().decode()


def many(count: int, **changes: object) -> list:
    (template,) = recorded("pull")[1:2]
    base = time.time_ns() - count * 1000
    return [replace(template, event_id=f"e{index}", time_ns=base + index * 1000, **changes) for index in range(count)]


def test_filters_narrow_by_each_field() -> None:
    store(recorded("push", "pull", "mount", "delete"))
    count = lambda **query: len(page(AuditFilter.from_query(query), None)[0])  # noqa: E731
    assert count() == 26
    assert count(repository="other/app") == 12
    assert count(action="mount") == 3
    assert count(kind="manifest", action="push") == 2
    assert count(checks="only") == 10 and count(checks="hide") == 16
    assert count(digest="sha256:2ea827194ce303c71520dbed16d2a24f559113f53f5c6a8d744acaab0c3d6d18") == 6
    assert count(useragent="Docker-Client/28.2.2") == 23  # the delete was made with curl
    assert count(addr="127.0.0.1") == 26 and count(addr="10.0.0.1") == 0
    assert count(tag="1", action="delete") == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"action": "steal"}, "action='steal' is not one of push, pull, mount, delete"),
        ({"kind": "layer"}, "kind='layer' is not one of manifest, blob, tag, repository"),
        ({"manifest": "latest"}, "manifest='latest' is not a digest"),
        ({"checks": "maybe"}, "checks='maybe' is not one of show, hide, only"),
        ({"repository": "x" * 2000}, "repository is longer than 1024"),
        ({"since": "soon"}, "neither Unix seconds nor ISO 8601"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(query: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        AuditFilter.from_query(query)


@pytest.mark.parametrize("cursor", ["x", "1.2.3", "-5.1", "1" * 50 + ".1", ".", "9" * 20 + ".1", "1." + "9" * 20])
def test_a_forged_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(QueryError, match="is not a page cursor"):
        parse_cursor(cursor)


def test_keyset_pages_cover_every_event_once_newest_first() -> None:
    store(many(250))
    seen, cursor = [], None
    while True:
        rows, next_cursor = page(AuditFilter(), parse_cursor(cursor or ""), size=100)
        seen += [row.event_id for row in rows]
        if next_cursor is None:
            break
        cursor = next_cursor
    assert seen == [f"e{index}" for index in reversed(range(250))]


def test_the_csv_export_has_every_matching_event_and_defuses_formulas(client: Client) -> None:
    store(many(3, request_useragent="=HYPERLINK(\"http://x\")"))
    response = client.get("/api/registry/events.csv", {"action": "pull"})
    assert response["Content-Disposition"] == 'attachment; filename="registry-events.csv"'
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [row["event_id"] for row in rows] == ["e2", "e1", "e0"]
    assert rows[0]["request_useragent"].startswith("'=HYPERLINK")
    assert rows[0]["existence_check"] == "False"


def test_the_jsonl_export_and_the_api_agree(client: Client) -> None:
    store(recorded("pull"))
    lines = streamed(client.get("/api/registry/events.jsonl")).splitlines()
    api = client.get("/api/registry/events/").json()
    assert [json.loads(line)["event_id"] for line in lines] == [event["event_id"] for event in api["events"]]
    assert api["next"] is None
    assert sum(event["existence_check"] for event in api["events"]) == 1


def test_the_api_pages_with_a_next_link(client: Client) -> None:
    store(many(150))
    first = client.get("/api/registry/events/", {"repository": "lab/app"}).json()
    assert len(first["events"]) == 100 and "repository=lab%2Fapp" in first["next"]
    second = client.get(first["next"]).json()
    assert len(second["events"]) == 50 and second["next"] is None
    assert client.get("/api/registry/events/", {"before": "nope"}).status_code == 400


def test_the_audit_page_shows_existence_checks_and_links_a_manifest_to_its_blobs(client: Client) -> None:
    store(recorded("pull"))
    html = client.get("/registry/").content.decode()
    assert html.count("existence check</span>") == 1
    assert 'class="blobs"' in html
    assert client.get("/registry/", {"action": "nope"}).status_code == 400
    empty = client.get("/registry/", {"repository": "nothing/here"}).content.decode()
    assert "No registry events match this filter" in empty


def test_the_empty_audit_page_says_how_to_point_a_registry_here(client: Client) -> None:
    html = client.get("/registry/").content.decode()
    assert "/hooks/registry/" in html and "Authorization: [Bearer" in html


def test_retention_prunes_in_batches_after_a_dry_run_says_how_many() -> None:
    old = many(30)
    store([replace(event, time_ns=event.time_ns - 100 * 86_400 * 10**9) for event in old[:20]] + old[20:])
    out = io.StringIO()
    call_command("prune_registry", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "20 registry events older than 90 days would be deleted."
    assert AuditEvent.objects.count() == 30
    call_command("prune_registry", "--batch", "7", stdout=out)
    assert "20 registry events older than 90 days deleted." in out.getvalue()
    assert AuditEvent.objects.count() == 10


def test_registry_arrows_join_the_daemons_push_in_one_box() -> None:
    events = recorded("push")
    assert store(events) == 9
    from archviz.models import StoredObservation

    observations = [row.to_wire() for row in StoredObservation.objects.order_by("id")]
    push = {
        "id": 999, "time_ns": str(events[-1].time_ns + 1000), "source": "daemon", "host": LAB_HOST,
        "kind": "image-push", "subject": "127.0.0.1:5997/lab/app:1", "attributes": {"id": "127.0.0.1:5997/lab/app:1"},
        "correlation": "",
    }
    watcher = {**push, "id": 0, "source": "watcher", "kind": "watcher-connected", "subject": LAB_HOST,
               "attributes": {"message": "Docker"}}
    diagram = sequence([watcher, *observations, push])
    boxes = {m.interaction for m in diagram.messages if m.interaction}
    assert len(boxes) == 1
    (box,) = boxes
    assert diagram.interactions[box].title == "docker push 127.0.0.1:5997/lab/app:1 (inferred)"
    labels = [m.label for m in diagram.messages]
    assert labels[1].startswith("upload blob 444a452a9f12") and labels[2] == "blob 444a452a9f12 stored"
    assert labels[3] == "does blob 444a452a9f12 exist? (HEAD)" and labels[4] == "it does"
    assert any(label.startswith("upload manifest lab/app:1") for label in labels)
    assert "push 127.0.0.1:5997/lab/app:1" in labels  # client -> daemon
    assert not any(label.startswith("layers and manifest") for label in labels)  # not guessed: seen
    senders = {m.sender for m in diagram.messages if m.receiver.startswith("registry:")}
    assert senders == {f"daemon:{LAB_HOST}"}


def v3_session() -> list[RegistryEvent]:
    """What registry-v3 sent for two users pushing, pulling and deleting (see test_registry_source)."""
    return [event for delivery in json.loads((DATA / "v3_session.json").read_text())
            for event in read_delivery(delivery["body"].encode()).events]


def test_the_api_takes_a_limit_of_1_to_1000_and_keeps_it_in_the_next_link(client: Client) -> None:
    store(many(1200))
    full = client.get("/api/registry/events/", {"limit": "1000"}).json()
    assert len(full["events"]) == 1000 and "limit=1000" in full["next"]
    rest = client.get(full["next"]).json()
    assert len(rest["events"]) == 200 and rest["next"] is None
    assert len(client.get("/api/registry/events/", {"limit": "1"}).json()["events"]) == 1
    for bad in ("0", "1001", "ten", "-5", ""):
        response = client.get(f"/api/registry/events/?limit={bad}")
        if bad:
            assert response.status_code == 400
            assert response.json()["error"] == f"limit={bad!r} is not a number from 1 to 1000: e.g. limit=500"
        else:
            assert len(response.json()["events"]) == 100


@pytest.mark.parametrize("path", ["/api/registry/events/", "/api/registry/events.csv", "/api/registry/events.jsonl",
                                  "/api/registry/chart", "/registry/", "/api/registry/unknown/",
                                  "/api/registry/refusals/"])
def test_unknown_query_parameters_are_refused_by_name(client: Client, path: str) -> None:
    response = client.get(path, {"repo": "lab/app", "actor_name": "alice"})
    assert response.status_code == 400
    message = response.json()["error"] if path.startswith("/api/") else response.content.decode()
    assert "unknown query parameters actor_name, repo: this endpoint takes" in message


def test_a_parameter_given_twice_is_refused_rather_than_guessed(client: Client) -> None:
    response = client.get("/api/registry/events/?actor=alice&actor=bob")
    assert response.status_code == 400 and response.json()["error"] == "actor is given 2 times: give it once"


def test_actor_lists_exactly_that_users_events(client: Client) -> None:
    events = v3_session()
    store(events)
    for user in ("alice", "bob"):
        listed = client.get("/api/registry/events/", {"actor": user, "limit": "1000"}).json()["events"]
        assert sorted(e["event_id"] for e in listed) == sorted(e.event_id for e in events if e.actor == user)
        assert {e["actor"] for e in listed} == {user}
    assert client.get("/api/registry/events/", {"actor": "mallory"}).json()["events"] == []


def test_a_pulled_manifest_links_to_exactly_the_blobs_it_references(client: Client) -> None:
    events = v3_session()
    store(events)
    pulled = next(e for e in events if e.action == "pull" and e.target_kind == "manifest" and e.actor == "bob")
    api = client.get("/api/registry/events/", {"digest": pulled.digest, "action": "pull", "checks": "hide"}).json()
    (manifest,) = api["events"]
    referenced = [r["digest"] for r in manifest["references"]]
    assert referenced == [r.digest for r in pulled.references] and len(referenced) == 4
    blobs = client.get("/api/registry/events/", {"repository": "lab/app", "manifest": pulled.digest,
                                                 "limit": "1000"}).json()["events"]
    assert {b["digest"] for b in blobs} == set(referenced)
    assert len(blobs) == sum(1 for e in events if e.repository == "lab/app" and e.digest in referenced)
    html = client.get("/registry/", {"digest": pulled.digest}).content.decode()
    assert f'href="?repository=lab%2Fapp&amp;manifest={pulled.digest.replace(":", "%3A")}"' in html
    assert "blobs (4)" in html


def test_without_references_a_manifest_links_to_the_blobs_moved_around_it(client: Client) -> None:
    store(recorded("pull"))  # distribution 2.8 lists no references
    manifest = next(e for e in client.get("/api/registry/events/").json()["events"] if e["target_kind"] == "manifest")
    assert manifest["references"] == []
    html = client.get("/registry/").content.decode()
    assert re.search(r'class="blobs" href="\?repository=lab%2Fapp&amp;addr=127.0.0.1&amp;kind=blob&amp;since=\d', html)
    assert "blobs (" not in html


def test_the_exports_carry_a_manifests_references(client: Client) -> None:
    store(v3_session())
    rows = list(csv.DictReader(io.StringIO(streamed(client.get("/api/registry/events.csv", {"kind": "manifest"})))))
    pushed = next(row for row in rows if row["action"] == "push" and row["repository"] == "lab/app")
    assert len(pushed["references"].split(" ")) == 4
    lines = [json.loads(line) for line in streamed(client.get("/api/registry/events.jsonl")).splitlines()]
    assert {len(line["references"]) for line in lines if line["target_kind"] == "manifest"} == {2, 4}
