"""/ws/map/ against the real ASGI app: the map's state on connect, then what each published Message lights, each
pull's progress, a fresh state when the boxes change; and broken or hostile input refused without harm."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from archviz.inventory import Change
from archviz.observation import Observation, Source
from archviz.publish import publish, publish_inventory, publish_pull
from dashboard.asgi import application
from tests.recorded import LAB_HOST
from tests.test_map_state import CLI, DAEMON, REGISTRY, scenario

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://127.0.0.1")]


async def connected(path: str = "/ws/map/") -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    ok, _ = await communicator.connect()
    assert ok
    return communicator, await communicator.receive_json_from()


def observations(name: str) -> list[Observation]:
    return [Observation(time_ns=int(o["time_ns"]), source=Source(o["source"]), host=o["host"], kind=o["kind"],
                        subject=o["subject"], attributes=o["attributes"], correlation=o["correlation"],
                        key=f"{name}-{o['id']}") for o in scenario(name)]


async def frames_until(communicator: WebsocketCommunicator, kind: str) -> list[dict]:
    seen = [await communicator.receive_json_from(timeout=5)]
    while seen[-1]["type"] != kind:
        seen.append(await communicator.receive_json_from(timeout=5))
    return seen


async def test_on_connect_an_empty_store_gives_an_empty_map() -> None:
    communicator, first = await connected()
    assert first == {"type": "map", "state": {"daemons": [], "clients": [], "registries": [], "edges": [],
                                              "more": {"daemons": 0, "clients": 0, "registries": 0}, "host": None}}
    await communicator.disconnect()


async def test_a_pull_draws_its_new_boxes_first_then_lights_the_edges_its_messages_cross() -> None:
    communicator, _ = await connected()
    await sync_to_async(publish)(observations("pull"))
    state_frame, traffic_frame = await frames_until(communicator, "map-traffic")
    assert state_frame["type"] == "map"
    state = state_frame["state"]
    assert [c["id"] for c in state["clients"]] == [CLI] and [r["id"] for r in state["registries"]] == [REGISTRY]
    drawn = {edge["id"] for edge in state["edges"]}
    lit = traffic_frame["traffic"]
    assert {(e["kind"], e["forward"]) for e in lit} >= {
        ("client-daemon", True), ("client-daemon", False), ("daemon-registry", True), ("daemon-registry", False)}
    assert {e["edge"] for e in lit if e["edge"]} <= drawn
    assert {e["box"] for e in lit if e["box"]} <= {CLI, DAEMON}
    await communicator.disconnect()


async def test_an_inventory_change_sends_a_fresh_state_and_a_pull_its_progress() -> None:
    communicator, _ = await connected()
    image = {"id": "sha256:abc", "tags": ["lab/app:1"], "digests": [], "size": 100, "created": 1,
             "layers": [{"id": "sha256:l1", "size": 100, "created_by": ""}]}
    await sync_to_async(publish_inventory)(LAB_HOST, [Change("upsert", "image", image["id"], image)], reload=True)
    (frame,) = await frames_until(communicator, "map")
    assert frame["state"]["daemons"][0]["parts"][0]["count"] == 1
    pull = {"id": "tap-1-2", "host": LAB_HOST, "user": "docker (process 1)", "reference": "lab/app:1",
            "status": "pulling", "message": "", "fraction": 0.5, "layers": []}
    await sync_to_async(publish_pull)(pull)
    assert await communicator.receive_json_from(timeout=5) == {"type": "map-pull", "pull": pull}
    await communicator.disconnect()


async def test_asking_for_one_host_draws_only_that_daemon() -> None:
    await sync_to_async(publish)(observations("pull"))
    communicator, first = await connected(f"/ws/map/?host={LAB_HOST}")
    assert [d["host"] for d in first["state"]["daemons"]] == [LAB_HOST]
    await communicator.disconnect()
    other, elsewhere = await connected("/ws/map/?host=tcp://10.0.0.9:2375")
    assert elsewhere["state"]["daemons"] == [] and elsewhere["state"]["clients"] == []
    await other.disconnect()


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "not JSON"),
        ('{"type": "map", "state": {"daemons": []}}', "unknown frame type"),
        ('{"type": "resync", "host": "x"}', "unexpected fields"),
        ("[" * 50_000, "too large"),
        (b"\x00\x01", "binary frames are not accepted"),
    ],
    ids=["not-json", "forged-state", "extra-field", "huge", "binary"],
)
async def test_hostile_frames_get_an_error_and_the_map_keeps_working(frame: str | bytes, error: str) -> None:
    communicator, _ = await connected()
    if isinstance(frame, bytes):
        await communicator.send_to(bytes_data=frame)
    else:
        await communicator.send_to(text_data=frame)
    reply = await communicator.receive_json_from()
    assert reply["type"] == "error" and error in reply["error"]
    await communicator.send_json_to({"type": "resync"})
    assert (await communicator.receive_json_from())["type"] == "map"
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("host=" + "x" * 300, "host must be a daemon's address"),
        ("host=unix:///a%00b", "host must be a daemon's address"),
        ("host=%E2%80%AE", "host must be a daemon's address"),
        ("&".join(f"p{n}=1" for n in range(50)), "too many query parameters"),
    ],
    ids=["too-long", "nul", "bidi-override", "too-many-fields"],
)
async def test_a_broken_query_gets_an_error_frame_and_the_socket_is_closed(query: str, error: str) -> None:
    communicator = WebsocketCommunicator(application, f"/ws/map/?{query}", headers=ORIGIN)
    ok, _ = await communicator.connect()
    assert ok
    reply = await communicator.receive_json_from()
    assert reply["type"] == "error" and error in reply["error"]
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4400}


async def test_a_query_string_that_is_not_utf8_is_read_without_failing() -> None:
    communicator = WebsocketCommunicator(application, "/ws/map/", headers=ORIGIN)
    communicator.scope["query_string"] = b"host=\xff\xfe"
    ok, _ = await communicator.connect()
    assert ok
    frame = json.loads((await communicator.receive_output(timeout=5))["text"])
    assert frame["type"] == "map" and frame["state"]["host"] == "\ufffd\ufffd"
    await communicator.disconnect()
