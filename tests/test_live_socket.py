from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from archviz import frames
from archviz.lab import Lab
from archviz.observation import Observation, Source
from archviz.publish import publish
from dashboard.asgi import application
from tests.conftest import run_container
from tests.lab_helpers import RunningWatcher, eventually, stored

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://127.0.0.1")]
# What the SDK's containers.run() makes the daemon do (it waits and reads logs, so it never attaches).
CONTAINER_STEPS = ["container-create", "container-start", "container-die", "container-destroy"]


async def connected() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=ORIGIN)
    ok, _ = await communicator.connect()
    assert ok
    return communicator


@pytest.mark.lab
async def test_a_container_run_in_the_lab_reaches_the_store_and_the_socket(lab: Lab) -> None:
    name = f"web-{uuid.uuid4().hex[:8]}"
    async with RunningWatcher(lab.docker_host):
        await eventually(lambda: stored(kind="watcher-connected"), what="the watcher connects")
        communicator = await connected()
        snapshot = await communicator.receive_json_from()
        assert snapshot["type"] == "snapshot"
        await asyncio.to_thread(run_container, lab, name, "exit 3")

        seen: list[dict] = []
        labels: list[str] = []
        while [o["kind"] for o in seen] != CONTAINER_STEPS:
            frame = await communicator.receive_json_from(timeout=10)
            assert frame["type"] == "observations"
            seen += [o for o in frame["observations"] if o["subject"] == name]
            labels += [m["label"] for m in frame["sequence"]["messages"]]
        await communicator.disconnect()

    rows = await stored(subject=name)
    assert [row.kind for row in rows] == CONTAINER_STEPS
    assert rows[2].attributes["exitCode"] == "3"
    assert [o["id"] for o in seen] == [row.pk for row in rows]
    assert f"create container {name} from {lab.base_image}" in labels
    assert f"{name} exited with code 3" in labels


async def test_a_snapshot_lists_the_newest_events_and_the_store_sequence() -> None:
    communicator = await connected()
    snapshot = await communicator.receive_json_from()
    assert snapshot == {
        "type": "snapshot", "seq": 0, "observations": [], "watchers": [],
        "sequence": {"participants": [], "messages": [], "interactions": []},
    }
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "not JSON"),
        ('{"type": "exec", "cmd": "rm -rf /"}', "unknown frame type"),
        ("x" * 100_000, "too large"),
        (b"\x00\x01", "binary frames are not accepted"),
    ],
    ids=["not-json", "unknown-type", "huge", "binary"],
)
async def test_hostile_frames_get_an_error_and_the_socket_keeps_working(frame: str | bytes, error: str) -> None:
    communicator = await connected()
    await communicator.receive_json_from()
    if isinstance(frame, bytes):
        await communicator.send_to(bytes_data=frame)
    else:
        await communicator.send_to(text_data=frame)
    reply = await communicator.receive_json_from()
    assert reply["type"] == "error" and error in reply["error"]
    await communicator.send_json_to({"type": "resync"})
    assert (await communicator.receive_json_from())["type"] == "snapshot"
    await communicator.disconnect()


SOCKETS = ["/ws/live/", "/ws/inventory/", "/ws/map/", "/ws/map/?host=x"]


@pytest.mark.parametrize("path", SOCKETS)
async def test_a_socket_from_a_foreign_origin_is_refused(path: str) -> None:
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://evil.example")])
    ok, _ = await communicator.connect()
    assert not ok


@pytest.mark.parametrize("path", SOCKETS)
@override_settings(ARCHVIZ_REQUIRE_LOGIN=True)
async def test_with_login_required_an_anonymous_socket_is_refused(path: str) -> None:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    ok, _ = await communicator.connect()
    assert not ok


def container_created(number: int) -> Observation:
    return Observation(time_ns=time.time_ns(), source=Source.DAEMON, host="unix:///var/run/docker.sock",
                       kind="container-create", subject=f"c{number}",
                       attributes={"name": f"c{number}", "image": "busybox"}, key=f"behind-{number}")


@override_settings(ARCHVIZ_SOCKET_LAG_LIMIT=3)  # below what a setting may be, to keep the test short
async def test_a_page_that_falls_behind_is_closed_to_resync_and_one_that_keeps_up_is_sent_everything() -> None:
    reading, idle = await connected(), await connected()
    for communicator in (reading, idle):
        assert (await communicator.receive_json_from())["type"] == "snapshot"
    received = []
    for number in range(1, 7):
        await database_sync_to_async(publish)([container_created(number)])
        frame = await reading.receive_json_from()
        received.append(frame["seq"])
        await reading.send_json_to({"type": "ack", "seq": frame["seq"]})
    assert received == [1, 2, 3, 4, 5, 6]

    # The page that never said how far it was got what the limit allows, then a close that tells it to resync.
    assert [(await idle.receive_json_from())["seq"] for _ in range(3)] == [1, 2, 3]
    closed = await idle.receive_output()
    assert closed == {"type": "websocket.close", "code": frames.RESYNC_CLOSE,
                      "reason": "resync: this page fell behind"}
    await reading.disconnect()
