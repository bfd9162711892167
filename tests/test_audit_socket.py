"""The audit page's live tail, /ws/audit/: the newest page of the page's filter, then, numbered like the live
page's frames, the audit rows of the filter each publication brought (a registry's and Harbor's alike); a bad
filter is refused by name."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from dashboard.asgi import application
from tests import test_harbor_hook as harbor
from tests.test_registry_hook import TOKEN, deliver, envelopes

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://127.0.0.1")]


async def connected(query: str = "") -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(application, f"/ws/audit/{'?' + query if query else ''}", headers=ORIGIN)
    assert (await communicator.connect())[0]
    return communicator, await communicator.receive_json_from()


def sent_events(delivery: dict) -> list[dict]:
    return json.loads(delivery["body"])["events"]


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_each_publication_brings_the_rows_of_the_filter_numbered_without_gaps() -> None:
    deliveries = envelopes("v3_session")
    await deliver(deliveries[0]["body"].encode())
    communicator, snapshot = await connected("actor=bob")
    assert snapshot == {"type": "audit-snapshot", "seq": 1, "events": [], "more": False}
    everyone, first = await connected()
    assert [event["event_id"] for event in first["events"]] == [sent_events(deliveries[0])[0]["id"]]
    assert first["events"][0]["cursor"].startswith(first["events"][0]["time_ns"] + ".")

    for delivery in deliveries[1:]:
        await deliver(delivery["body"].encode())
    frames = [await communicator.receive_json_from(timeout=10) for _ in deliveries[1:]]
    assert [frame["seq"] for frame in frames] == list(range(2, len(deliveries) + 1))
    shown = [event for frame in frames for event in frame.get("events", [])]
    bobs = [event["id"] for delivery in deliveries for event in sent_events(delivery)
            if event["actor"].get("name") == "bob"]
    assert bobs and [event["event_id"] for event in shown] == bobs
    assert {event["actor"] for event in shown} == {"bob"}
    await communicator.send_json_to({"type": "resync"})
    again = await communicator.receive_json_from(timeout=10)
    assert again["seq"] == len(deliveries) and [e["event_id"] for e in again["events"]] == bobs[::-1]
    await communicator.disconnect()
    await everyone.disconnect()


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN, ARCHVIZ_HARBOR_AUTH=harbor.AUTH)
async def test_harbors_events_reach_an_open_page_as_they_are_stored_numbered_with_the_registrys() -> None:
    only_harbor, snapshot = await connected("source=harbor")
    everyone, _ = await connected()
    assert snapshot == {"type": "audit-snapshot", "seq": 0, "events": [], "more": False}
    documented = {payload["type"]: payload for payload in harbor.payloads("default_format")}
    pushed, pulled = documented["PUSH_ARTIFACT"], documented["PULL_ARTIFACT"]
    registry = envelopes("v3_session")[0]
    assert (await harbor.deliver(pushed))[0] == 200
    await deliver(registry["body"].encode())
    assert (await harbor.deliver(pulled))[0] == 200

    frames = [await only_harbor.receive_json_from(timeout=10) for _ in range(3)]
    assert [frame["seq"] for frame in frames] == [1, 2, 3]
    shown = [[(e["source"], e["action"], e["repository"], e["actor"]) for e in frame.get("events", [])]
             for frame in frames]
    assert shown == [[("harbor", "push", "harbor/alpine", pushed["operator"])], [],
                     [("harbor", "pull", "harbor/alpine", pulled["operator"])]]
    everything = [await everyone.receive_json_from(timeout=10) for _ in range(3)]
    assert [[e["source"] for e in frame["events"]] for frame in everything] == [["harbor"], ["registry"], ["harbor"]]
    await only_harbor.send_json_to({"type": "resync"})
    again = await only_harbor.receive_json_from(timeout=10)
    assert again["seq"] == 3 and [e["action"] for e in again["events"]] == ["pull", "push"]
    await only_harbor.disconnect()
    await everyone.disconnect()


async def test_a_filter_the_page_would_refuse_is_refused_by_name_and_the_socket_closed() -> None:
    for query, error in (("repo=lab%2Fapp", "unknown query parameter repo"), ("action=teleport", "action='teleport'"),
                         ("actor=a&actor=b", "actor is given 2 times")):
        communicator = WebsocketCommunicator(application, f"/ws/audit/?{query}", headers=ORIGIN)
        assert (await communicator.connect())[0]
        reply = await communicator.receive_json_from()
        assert reply["type"] == "error" and error in reply["error"]
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4400}
