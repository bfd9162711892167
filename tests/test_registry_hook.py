"""The registry webhook, through the real ASGI application: every authenticated POST of JSON is answered 200 and
kept (a registry retries a refused event forever and sends nothing after it); only bad auth, non-JSON and
oversized bodies are refused, and each refusal is counted on the audit page."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.db import connection
from django.db.models import Q
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archviz import publisher
from archviz.audit import writer
from archviz.models import AuditEvent, RefusedDelivery, StoredObservation, UnknownEvent
from archviz.publisher import PUBLISHER
from archviz.sources.registry import UNSTORABLE
from dashboard.asgi import application
from tests.hostile import HOSTILE_VALUES, counted, delivered_whole, with_changes

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "test-token-123"
V2 = "application/vnd.docker.distribution.events.v2+json"
V1 = "application/vnd.docker.distribution.events.v1+json"
DATA = Path(__file__).parent / "data" / "registry"


def envelopes(name: str) -> list[dict]:
    return json.loads((DATA / f"{name}.json").read_text())


async def deliver(body: bytes | dict, *, token: str | None = TOKEN, content_type: str | None = V2,
                  method: str = "POST") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = [(b"content-length", str(len(data)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    # As daphne builds it, with the registry's address (HttpCommunicator leaves it out).
    scope = {"type": "http", "http_version": "1.1", "method": method, "scheme": "http", "path": "/hooks/registry/",
             "raw_path": b"/hooks/registry/", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 51234), "server": ("127.0.0.1", 8000)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": data})
    start = await communicator.receive_output(10)
    body = await communicator.receive_output(10)
    return start["status"], json.loads(body["body"])


@sync_to_async
def counts() -> tuple[int, int, int]:
    """Audit events, registry observations, events of unknown shape."""
    return counted("registry")


@sync_to_async
def refused() -> dict[str, int]:
    return {row.cause: row.count for row in RefusedDelivery.objects.all()}


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_distribution_3s_own_deliveries_are_each_stored_once_even_when_delivered_twice() -> None:
    for delivery in envelopes("v3_session"):
        body, content_type = delivery["body"].encode(), delivery["content_type"]
        assert await deliver(body, content_type=content_type) == (200, {"stored": 1, "unknown": 0, "duplicates": 0})
        assert await deliver(body, content_type=content_type) == (200, {"stored": 0, "unknown": 0, "duplicates": 1})
    assert await counts() == (29, 29, 0)


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
@pytest.mark.parametrize("content_type", [V1, V2, "application/json", "application/json; charset=utf-8", None])
async def test_the_media_type_does_not_matter_the_body_does(content_type: str | None) -> None:
    for envelope in envelopes("push"):
        status, answer = await deliver(envelope, content_type=content_type)
        assert status == 200 and answer["stored"] == 1
    assert await counts() == (9, 9, 0)


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_an_envelope_of_several_events_with_one_unreadable_and_one_repeated_keeps_each_once() -> None:
    good = envelopes("push")[-1]["events"][0]
    teleport = {**good, "id": "other", "action": "teleport"}
    body = {"events": [good, teleport, good]}
    assert await deliver(body) == (200, {"stored": 1, "unknown": 1, "duplicates": 1})
    assert await deliver(body) == (200, {"stored": 0, "unknown": 0, "duplicates": 3})
    assert await counts() == (1, 1, 1)


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN="")
async def test_with_no_token_configured_everything_is_refused_with_what_to_set() -> None:
    status, answer = await deliver(envelopes("push")[0])
    assert status == 503 and "set ARCHVIZ_REGISTRY_TOKEN" in answer["error"]
    assert await counts() == (0, 0, 0)
    assert await refused() == {"no-token": 1}


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
@pytest.mark.parametrize("token", [None, "wrong-token-456", TOKEN + "x", ""])
async def test_a_wrong_or_missing_token_is_refused_and_counted_without_keeping_it(token: str | None) -> None:
    for _ in range(3):
        status, answer = await deliver(envelopes("push")[0], token=token)
        assert status == 401 and "bearer token" in answer["error"]
    assert await counts() == (0, 0, 0)
    assert await refused() == {"unauthorized": 3}
    if token:
        assert token not in await database_text()


@sync_to_async
def database_text() -> str:
    with connection.cursor() as cursor:
        return "\n".join(str(cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}").fetchall())
                         for table in connection.introspection.table_names(cursor))


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
@pytest.mark.parametrize(
    ("body", "status", "cause", "message"),
    [
        (b"not json", 400, "not-json", "body is not JSON"),
        (b'{"events": [NaN]}', 400, "not-json", "body is not JSON"),
        (b" " * (10 * 1024 * 1024), 413, "too-large", "over the 1048576-byte limit"),
        (json.dumps({"events": [{}] * 1001}).encode(), 413, "too-large", "at most 1000"),
    ],
    ids=["not-json", "nan", "ten-megabytes", "too-many-events"],
)
async def test_only_bodies_that_are_not_json_or_too_large_are_refused_and_counted(body: bytes, status: int,
                                                                                  cause: str, message: str) -> None:
    got, answer = await deliver(body)
    assert got == status and message in answer["error"]
    assert await counts() == (0, 0, 0)
    assert await refused() == {cause: 1}


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_only_post_is_accepted() -> None:
    status, answer = await deliver(b"", method="GET")
    assert status == 405 and "only POST" in answer["error"]


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_a_body_longer_than_declared_is_cut_off_at_the_limit() -> None:
    body = b" " * (2 * 1024 * 1024)
    headers = [(b"content-type", V2.encode()), (b"content-length", b"10"),
               (b"authorization", f"Bearer {TOKEN}".encode())]
    response = await HttpCommunicator(application, "POST", "/hooks/registry/", body=body, headers=headers
                                      ).get_response(timeout=10)
    assert response["status"] == 413


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
def test_the_audit_page_counts_unknown_shapes_links_to_them_and_shows_refused_deliveries(client: Client) -> None:
    post = async_to_sync(deliver)
    for body in ({"events": [{"id": "u1", "action": "teleport"}, {"id": "u2"}]}, b"[1, 2]", b"not json", b"{"):
        post(body)
    post(b"{}", token="wrong")
    html = client.get("/registry/").content.decode()
    assert '3 events of unknown shape — <a href="/registry/unknown/">view</a>' in html
    assert ('<tr data-cause="not-json"><td>400</td><td>body is not JSON</td><td>127.0.0.1</td><td class="count">2'
            in html)
    assert '<tr data-cause="unauthorized"><td>401</td><td>wrong or missing bearer token</td>' in html
    view = client.get("/registry/unknown/").content.decode()
    assert view.count("<pre class=\"raw\">") == 3 and "action &#x27;teleport&#x27; is not one of" in view
    api = client.get("/api/registry/unknown/").json()
    assert api["count"] == 3 and [u["event_id"] for u in api["unknown"]] == ["", "u2", "u1"]
    assert json.loads(api["unknown"][0]["raw"]) == [1, 2] and "not an envelope" in api["unknown"][0]["reason"]
    refusals = {r["cause"]: r for r in client.get("/api/registry/refusals/").json()["refusals"]}
    assert (refusals["not-json"]["count"], refusals["not-json"]["status"]) == (2, 400)
    assert refusals["unauthorized"]["count"] == 1


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_each_stored_event_reaches_a_live_page_once_in_the_order_stored() -> None:
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=[(b"origin", b"http://127.0.0.1")])
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["type"] == "snapshot"
    deliveries = envelopes("v3_session")
    for delivery in deliveries:
        for _ in range(2):  # a redelivery is stored once, so it is shown once
            await deliver(delivery["body"].encode())
    seen: list[dict] = []
    while len(seen) < len(deliveries):
        frame = await communicator.receive_json_from(timeout=10)
        assert frame["type"] == "observations"
        seen += frame["observations"]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
    assert [o["id"] for o in seen] == list(range(seen[0]["id"], seen[0]["id"] + len(deliveries)))
    assert [o["kind"] for o in seen] == [f"registry-{json.loads(d['body'])['events'][0]['action']}"
                                         for d in deliveries]


@pytest.mark.asyncio
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_where_serve_runs_a_burst_of_single_event_deliveries_reaches_a_live_page_in_one_frame(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # As in `serve`, the publisher's loop runs: the webhook answers each delivery once it is stored and publishes
    # what it stored LINGER later, once for all of it. Here LINGER is long enough for the whole burst and the
    # loop's own look at the store (POLL_SECONDS) too far off to be the one publishing.
    monkeypatch.setattr(writer, "LINGER", 1.0)
    monkeypatch.setattr(publisher, "POLL_SECONDS", 60)
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=[(b"origin", b"http://127.0.0.1")])
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["type"] == "snapshot"
    running = asyncio.create_task(PUBLISHER.run())
    try:
        burst = envelopes("v3_session")[:10]
        for delivery in burst:
            assert (await deliver(delivery["body"].encode()))[0] == 200
        frames: list[dict] = []
        while sum(len(frame["observations"]) for frame in frames) < len(burst):
            frames.append(await communicator.receive_json_from(timeout=5))
        assert [o["kind"] for frame in frames for o in frame["observations"]] == [
            f"registry-{json.loads(d['body'])['events'][0]['action']}" for d in burst]
        # One frame for the burst (two when the loop's first look at the store, as it starts, caught its first
        # events), not one a delivery.
        assert len(frames) <= 2
        assert await communicator.receive_nothing(timeout=0.3)
    finally:
        PUBLISHER.stop()
        await running
        await communicator.disconnect()


# Hostile bodies ---------------------------------------------------------------------------------------------

TEMPLATE = json.loads(json.loads((DATA / "v3_session.json").read_text())[13]["body"])["events"][0]
PATHS = [("id",), ("timestamp",), ("action",), ("target",), ("target", "repository"), ("target", "tag"),
         ("target", "digest"), ("target", "size"), ("target", "mediaType"), ("target", "references"),
         ("target", "fromRepository"), ("target", "url"), ("request",), ("request", "method"),
         ("request", "useragent"), ("request", "addr"), ("actor",), ("actor", "name"), ("source",)]


def mutated(changes: list[tuple[tuple[str, ...], object]], event_id: str) -> dict:
    return with_changes({**TEMPLATE, "id": event_id}, changes)


HOSTILE_EVENTS = st.builds(mutated, st.lists(st.tuples(st.sampled_from(PATHS), HOSTILE_VALUES), max_size=3),
                           st.uuids().map(str))
HOSTILE_BODIES = st.one_of(
    st.binary(max_size=200),
    HOSTILE_VALUES.map(lambda value: json.dumps(value).encode()),
    st.lists(HOSTILE_EVENTS, max_size=4).map(lambda events: json.dumps({"events": events}).encode()),
    st.lists(HOSTILE_EVENTS | HOSTILE_VALUES, max_size=4).map(
        lambda events: json.dumps({"events": events}, ensure_ascii=False).encode("utf-8", "surrogatepass")),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=HOSTILE_BODIES)
@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
def test_a_hostile_body_never_gets_a_5xx_nor_leaves_a_partial_row(body: bytes) -> None:
    answer = delivered_whole(deliver, body, "registry")
    if answer is None:
        return
    try:
        envelope = json.loads(body)
    except ValueError:
        return
    events = envelope["events"] if isinstance(envelope, dict) and isinstance(envelope.get("events"), list) else None
    assert answer["stored"] + answer["unknown"] + answer["duplicates"] == (1 if events is None else len(events))
    for event in events if events is not None else [envelope]:
        ident = event.get("id") if isinstance(event, dict) else None
        # An id no database column takes (a lone surrogate…) cannot be looked up either: such an event is unknown.
        ident = ident if isinstance(ident, str) and not UNSTORABLE.search(ident) else None
        row = AuditEvent.objects.filter(event_id=ident).first() if ident is not None else None
        if row is not None:  # read: the whole row, and its observation
            assert row.repository and row.action in ("push", "pull", "mount", "delete") and row.target_kind
            key = hashlib.sha256(f"registry\x1f{ident}".encode()).hexdigest()[:40]
            assert StoredObservation.objects.filter(key=key, subject__startswith=row.repository).exists()
        else:  # not read: kept as it came (or, with the same id, by an earlier example)
            same = Q(raw=json.dumps(event, ensure_ascii=True))
            if ident:
                same |= Q(event_id=ident)
            assert UnknownEvent.objects.filter(same).exists()
