from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from channels.layers import get_channel_layer

from archviz.lab import Lab
from archviz.watcher import Backoff
from tests.conftest import run_container
from tests.lab_helpers import RunningWatcher, eventually, stored

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
STEPS = ("container-create", "container-start", "container-die", "container-destroy")


def steps_by_container(rows: list) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        if row.kind in STEPS:
            counts.setdefault(row.subject, Counter())[row.kind] += 1
    return counts


@pytest.mark.lab
async def test_the_watcher_survives_a_daemon_crash_with_no_event_lost_or_stored_twice(lab: Lab) -> None:
    run = f"r{uuid.uuid4().hex[:6]}"
    names = {phase: [f"{run}-{phase}-{i}" for i in range(3)] for phase in ("before", "outage", "after")}
    # A slow retry, so that containers run while the watcher is away and must be replayed with `since`.
    async with RunningWatcher(lab.docker_host, Backoff(first=1.5, longest=1.5)):
        await eventually(lambda: stored(kind="watcher-connected"), what="the watcher connects")
        for name in names["before"]:
            await asyncio.to_thread(run_container, lab, name)
        await eventually(lambda: stored(kind="container-destroy", subject=names["before"][-1]))

        await asyncio.to_thread(lab.stop_daemon, signal.SIGKILL)
        await eventually(lambda: stored(kind="watcher-unreachable"), what="the watcher notices the crash")
        await asyncio.to_thread(lab.start_daemon)
        for name in names["outage"]:
            await asyncio.to_thread(run_container, lab, name)
        await eventually(lambda: stored(kind="watcher-connected", id__gt=1), what="the watcher reconnects")
        for name in names["after"]:
            await asyncio.to_thread(run_container, lab, name)
        await eventually(lambda: stored(kind="container-destroy", subject=names["after"][-1]))

    counts = steps_by_container(await stored(subject__startswith=run))
    every = [name for phase in names.values() for name in phase]
    assert sorted(counts) == sorted(every)
    assert all(counts[name] == Counter(STEPS) for name in every), counts
    unreachable = await stored(kind="watcher-unreachable")
    assert "closed the event stream" in unreachable[0].attributes["message"]


@pytest.mark.parametrize(
    ("address", "message", "hint"),
    [
        ("unix:///nonexistent/docker.sock", "there is no socket at that path", "python manage.py lab up"),
        ("bogus://somewhere", "Invalid bind address protocol", "is not a Docker address"),
        ("tcp://127.0.0.1:9", "connection refused", "Check that it runs and listens there"),
    ],
    ids=["missing-socket", "not-an-address", "refused"],
)
async def test_an_unreachable_daemon_is_reported_once_with_a_fix_and_retried(address: str, message: str,
                                                                             hint: str) -> None:
    async with RunningWatcher(address, Backoff(first=0.05, longest=0.05)) as watcher:
        reports = await eventually(lambda: stored(kind="watcher-unreachable"))
        await asyncio.sleep(0.5)  # several retries happen here
    assert len(await stored(kind="watcher-unreachable")) == 1
    report = reports[0]
    assert report.host == watcher.address == address
    assert message in report.attributes["message"]
    assert hint in report.attributes["hint"]


class HostileDaemon:
    """A peer on a unix socket that speaks just enough of the Engine API to open /events, then
    sends what no real daemon would: non-objects, events missing fields, and JSON cut off mid-way."""

    GOOD = {"Type": "container", "Action": "start", "Actor": {"ID": "c1", "Attributes": {"name": "ok-1"}},
            "time": 1, "timeNano": 1_700_000_000_000_000_001}

    def __init__(self, path: Path) -> None:
        self.path = path
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen()
        self.event_streams = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                request = connection.recv(65536).decode(errors="replace")
                if "/version " in request.split("\r\n")[0]:
                    body = json.dumps({"Version": "hostile", "ApiVersion": "1.41"}).encode()
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                                       + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                    continue
                self.event_streams += 1
                chunks = [json.dumps(self.GOOD), "[1, 2, 3]", '{"Type": "container"}', '"just a string"',
                          '{"Type": "container", "Action": "die", "timeNano": 17']
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n")
                for chunk in chunks:
                    data = (chunk + "\n").encode()
                    connection.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def hostile_daemon(tmp_path: Path) -> Iterator[HostileDaemon]:
    path = Path(f"/tmp/hostile-{os.getpid()}-{uuid.uuid4().hex[:6]}.sock")
    daemon = HostileDaemon(path)
    yield daemon
    daemon.close()
    path.unlink(missing_ok=True)


async def test_a_stream_of_garbage_cut_off_mid_event_is_survived_and_the_good_event_kept_once(
    hostile_daemon: HostileDaemon,
) -> None:
    async with RunningWatcher(f"unix://{hostile_daemon.path}", Backoff(first=0.05, longest=0.05)):
        await eventually(lambda: asyncio.sleep(0, hostile_daemon.event_streams >= 3), what="three reconnects")
    good = await stored(source="daemon")
    assert [(row.kind, row.subject) for row in good] == [("container-start", "ok-1")]
    reports = await stored(kind="watcher-unreachable")
    assert reports and reports[0].attributes["retry_in"] == 0.05


async def test_what_the_watcher_stores_is_sent_to_pages_through_the_loop_that_serves_them(monkeypatch) -> None:
    # The watcher's writer thread publishes what it stores. Its sends must go through the loop that serves the
    # sockets: the in-memory channel layer is not thread-safe, and a send from a loop of its own reached the page
    # up to 8 s late (bench/latency.py).
    layer = get_channel_layer()
    loops: list[asyncio.AbstractEventLoop] = []
    group_send = layer.group_send

    async def recorded(group: str, message: dict) -> None:
        loops.append(asyncio.get_running_loop())
        await group_send(group, message)

    monkeypatch.setattr(layer, "group_send", recorded)
    async with RunningWatcher("unix:///nonexistent/docker.sock", Backoff(first=5, longest=5)):
        await eventually(lambda: stored(kind="watcher-unreachable"), what="the watcher reports the missing socket")
        await eventually(lambda: asyncio.sleep(0, loops), what="the report is sent to the pages")
    assert loops == [asyncio.get_running_loop()] * len(loops)
