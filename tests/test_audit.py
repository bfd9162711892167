from __future__ import annotations

import csv
import io
import json
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
from archviz.sources.registry import EVENTS_MEDIA_TYPE, parse_envelope
from tests.recorded import LAB_HOST

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data" / "registry"


def recorded(*names: str) -> list:
    return [event for name in names for envelope in json.loads((DATA / f"{name}.json").read_text())
            for event in parse_envelope(json.dumps(envelope).encode(), EVENTS_MEDIA_TYPE)]


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
    ingest(recorded("push", "pull", "mount", "delete"))
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
        ({"kind": "layer"}, "kind='layer' is not one of manifest, blob, tag"),
        ({"checks": "maybe"}, "checks='maybe' is not one of show, hide, only"),
        ({"repository": "x" * 2000}, "repository is longer than 1024"),
        ({"since": "soon"}, "neither Unix seconds nor ISO 8601"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(query: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        AuditFilter.from_query(query)


@pytest.mark.parametrize("cursor", ["x", "1.2.3", "-5.1", "1" * 50 + ".1", "."])
def test_a_forged_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(QueryError, match="is not a page cursor"):
        parse_cursor(cursor)


def test_keyset_pages_cover_every_event_once_newest_first() -> None:
    ingest(many(250))
    seen, cursor = [], None
    while True:
        rows, next_cursor = page(AuditFilter(), parse_cursor(cursor or ""), size=100)
        seen += [row.event_id for row in rows]
        if next_cursor is None:
            break
        cursor = next_cursor
    assert seen == [f"e{index}" for index in reversed(range(250))]


def test_the_csv_export_has_every_matching_event_and_defuses_formulas(client: Client) -> None:
    ingest(many(3, request_useragent="=HYPERLINK(\"http://x\")"))
    response = client.get("/api/registry/events.csv", {"action": "pull"})
    assert response["Content-Disposition"] == 'attachment; filename="registry-events.csv"'
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [row["event_id"] for row in rows] == ["e2", "e1", "e0"]
    assert rows[0]["request_useragent"].startswith("'=HYPERLINK")
    assert rows[0]["existence_check"] == "False"


def test_the_jsonl_export_and_the_api_agree(client: Client) -> None:
    ingest(recorded("pull"))
    lines = streamed(client.get("/api/registry/events.jsonl")).splitlines()
    api = client.get("/api/registry/events/").json()
    assert [json.loads(line)["event_id"] for line in lines] == [event["event_id"] for event in api["events"]]
    assert api["next"] is None
    assert sum(event["existence_check"] for event in api["events"]) == 1


def test_the_api_pages_with_a_next_link(client: Client) -> None:
    ingest(many(150))
    first = client.get("/api/registry/events/", {"repository": "lab/app"}).json()
    assert len(first["events"]) == 100 and "repository=lab%2Fapp" in first["next"]
    second = client.get(first["next"]).json()
    assert len(second["events"]) == 50 and second["next"] is None
    assert client.get("/api/registry/events/", {"before": "nope"}).status_code == 400


def test_the_chart_counts_pushes_downloads_and_existence_checks_apart(client: Client) -> None:
    ingest(recorded("push", "pull"))
    data = client.get("/api/registry/chart").json()
    (series,) = data["series"]
    assert series["repository"] == "lab/app"
    assert (sum(series["push"]), sum(series["pull"]), sum(series["check"])) == (5, 4, 5)


def test_the_audit_page_shows_existence_checks_and_links_a_manifest_to_its_blobs(client: Client) -> None:
    ingest(recorded("pull"))
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
    ingest([replace(event, time_ns=event.time_ns - 100 * 86_400 * 10**9) for event in old[:20]] + old[20:])
    out = io.StringIO()
    call_command("prune_registry", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "20 registry events older than 90 days would be deleted."
    assert AuditEvent.objects.count() == 30
    call_command("prune_registry", "--batch", "7", stdout=out)
    assert "20 registry events older than 90 days deleted." in out.getvalue()
    assert AuditEvent.objects.count() == 10


def test_registry_arrows_join_the_daemons_push_in_one_box() -> None:
    events = recorded("push")
    rows = ingest(events)
    assert rows == 9
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
    assert labels[1].startswith("upload blob 444a452a9f12") and labels[2] == "does blob 444a452a9f12 exist? (HEAD)"
    assert "upload manifest lab/app:1" in labels
    assert "push 127.0.0.1:5997/lab/app:1" in labels  # client -> daemon
    assert not any(label.startswith("layers and manifest") for label in labels)  # not guessed: seen
    senders = {m.sender for m in diagram.messages if m.receiver.startswith("registry:")}
    assert senders == {f"daemon:{LAB_HOST}"}
