"""A request that can cause effects reaches the daemon only once its span is stored, so the daemon's events it
causes are stored after it whichever process stores them (a `watch` and a `tap` on one PostgreSQL race otherwise,
and the diagram would put a `docker stop`'s SIGTERM in no box). A slow store delays such a request by at most
CAUSE_SECONDS; requests that cause nothing are never held.

The daemon here is a stand-in on a unix socket that notes, as each request reaches it, whether the tap had stored
the request's head by then: the real daemon cannot be asked that question."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async

from archviz.models import StoredObservation
from archviz.tap import proxy
from archviz.tap.proxy import Tap
from tests.lab_helpers import eventually

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def stored_request(path: str) -> bool:
    return StoredObservation.objects.filter(kind="api-request", attributes__path=path).exists()


class StandInDaemon:
    """Answers every request 204 and notes (method, path, whether its head was stored when it arrived)."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.arrivals: list[tuple[str, str, bool]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            path = re.sub(r"^/v[0-9.]+/", "/", target.split("?")[0])
            self.arrivals.append((method, path, await stored_request(path)))
            writer.write(b"HTTP/1.1 204 No Content\r\nApi-Version: 1.47\r\n\r\n")
            await writer.drain()
            if reader.at_eof():
                break
        writer.close()


@pytest_asyncio.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[StandInDaemon]:
    stand_in = StandInDaemon(tmp_path / "docker.sock")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await stand_in.serve(reader, writer)
        except asyncio.IncompleteReadError:
            writer.close()

    server = await asyncio.start_unix_server(serve, stand_in.socket)
    yield stand_in
    server.close()


@contextlib.asynccontextmanager
async def tap_before(daemon: StandInDaemon) -> AsyncIterator[Tap]:
    tap = Tap(Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock"), daemon.socket)
    server = await tap.start()
    try:
        yield tap
    finally:
        await tap.stop(server)


async def ask(tap: Tap, requests: list[str]) -> list[float]:
    """Send the requests through the tap on one connection, one after the other; the seconds each took to be
    answered."""
    reader, writer = await asyncio.open_unix_connection(str(tap.listen))
    took = []
    for request in requests:
        started = time.monotonic()
        writer.write(f"{request} HTTP/1.1\r\nHost: docker\r\nUser-Agent: Docker-Client/28.2.2\r\n\r\n".encode())
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).startswith(b"HTTP/1.1 204")
        took.append(time.monotonic() - started)
    writer.close()
    return took


async def test_the_daemon_is_asked_to_stop_or_delete_only_after_the_request_is_stored(
        daemon: StandInDaemon) -> None:
    async with tap_before(daemon) as tap:
        await ask(tap, ["GET /_ping", "POST /v1.47/containers/c1/stop?t=1", "DELETE /v1.47/containers/c1",
                        "DELETE /v1.47/images/web:1", "POST /v1.47/images/create?fromImage=nginx&tag=latest"])
    causes = {(method, path): stored for method, path, stored in daemon.arrivals if path != "/_ping"}
    assert causes == {("POST", "/containers/c1/stop"): True, ("DELETE", "/containers/c1"): True,
                      ("DELETE", "/images/web:1"): True, ("POST", "/images/create"): True}


async def test_a_store_that_hangs_delays_a_cause_by_at_most_the_limit_and_loses_nothing(
        daemon: StandInDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()
    storing: Callable[..., object] = proxy.publish

    def hanging(batch: list[object]) -> object:
        released.wait(30)  # the database restarting, say
        return storing(batch)

    monkeypatch.setattr(proxy, "publish", hanging)
    monkeypatch.setattr(proxy, "CAUSE_SECONDS", 0.3)
    async with tap_before(daemon) as tap:
        try:
            stop, info = await asyncio.wait_for(ask(tap, ["POST /v1.47/containers/c1/stop?t=1", "GET /v1.47/info"]),
                                                10)
        finally:
            released.set()
    assert 0.3 <= stop < 5 and info < 0.3
    assert [arrival[:2] for arrival in daemon.arrivals] == [("POST", "/containers/c1/stop"), ("GET", "/info")]
    await eventually(lambda: stored_request("/containers/c1/stop"), timeout=10, what="the stop request stored")
