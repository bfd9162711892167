"""An attach through the tap: the client reads the daemon's `101` head on its own, then the stream.

docker-py reads the head through a buffered reader and the stream from the socket under it, so stream bytes that
reach it in the same read as the head are lost (docker-py issues #2042, #3332). The daemon here is dockerd for the
docker-py test, and otherwise a stand-in that answers with bytes recorded from the lab's dockerd, written at once
so that they reach the tap in one read, as they sometimes do from dockerd.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import docker
import pytest

from archviz.lab import Lab
from archviz.tap.proxy import Tap, raw_stream_head_end

ATTACH = (b"POST /v1.41/containers/5ef578d30b9a/attach?logs=1&stderr=1&stdout=1&stream=0 HTTP/1.1\r\n"
          b"Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
UPGRADED = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
            b"Upgrade: tcp\r\n\r\n")
NOT_UPGRADED = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"  # asked without Upgrade
HELLO = b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n"  # a stdout frame of `echo hello`
CHUNKED = (b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nServer: Docker/20.10.24\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n")
PING = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"


class RecordedDaemon:
    """Answers each request with `answer`, written at once; then closes, or half-closes and reads stdin to the end."""

    def __init__(self, answer: bytes, half_close: bool = False) -> None:
        self.answer, self.half_close = answer, half_close
        self.socket = Path(f"/tmp/avdaemon-{uuid.uuid4().hex[:8]}.sock")
        self.stdin = b""
        self.answered = asyncio.Event()

    async def answer_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(self.answer)
        if self.half_close:
            writer.write_eof()
            self.stdin = await reader.read()
        writer.close()
        self.answered.set()


@asynccontextmanager
async def tap_in_front_of(daemon: RecordedDaemon, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    """The tap's socket, in front of `daemon`. The stream waits for the client as long as it takes, however loaded
    the machine: HOLD_SECONDS is what a client that never reads the head costs, not what is tested here."""
    monkeypatch.setattr("archviz.tap.proxy.HOLD_SECONDS", 60.0)
    server = await asyncio.start_unix_server(daemon.answer_one, str(daemon.socket))
    tap = Tap(Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock"), daemon.socket)
    listening = await tap.start()
    try:
        yield tap.listen
    finally:
        await tap.stop(listening)
        server.close()
        daemon.socket.unlink(missing_ok=True)


def reads_of_an_attach(tap: Path, stdin: bytes = b"", dawdle: float = 0.0) -> list[bytes]:
    """What a client's reads return, one by one, when it attaches and reads to the end (sending `stdin` then);
    `dawdle` is how long it waits after reading the head, letting the stream pile up in the tap."""
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(tap))
        client.sendall(ATTACH)
        reads = [client.recv(1 << 20)]
        time.sleep(dawdle)
        while data := client.recv(1 << 20):
            reads.append(data)
        if stdin:
            client.sendall(stdin)
            client.shutdown(socket.SHUT_WR)
            while data := client.recv(1 << 20):
                reads.append(data)
    return reads


def test_only_heads_that_a_raw_stream_follows_are_written_apart() -> None:
    assert raw_stream_head_end(UPGRADED + HELLO) == len(UPGRADED)
    assert raw_stream_head_end(NOT_UPGRADED + HELLO) == len(NOT_UPGRADED)
    assert raw_stream_head_end(UPGRADED) == len(UPGRADED)
    assert raw_stream_head_end(CHUNKED + b"0\r\n\r\n") == 0  # read through the client's HTTP reader
    assert raw_stream_head_end(PING + b"OK") == 0
    assert raw_stream_head_end(b"HTTP/1.1 204 No Content\r\nApi-Version: 1.41\r\n\r\n") == 0
    assert raw_stream_head_end(UPGRADED[:30]) == 0  # not a whole head
    assert raw_stream_head_end(HELLO + UPGRADED) == 0  # not the start of an answer


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("head", [UPGRADED, NOT_UPGRADED], ids=["101", "200 without Upgrade"])
async def test_the_client_reads_the_head_alone_though_the_daemon_sent_the_stream_and_closed_with_it(
        head: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    async with tap_in_front_of(RecordedDaemon(head + HELLO), monkeypatch) as tap:
        reads = await asyncio.to_thread(reads_of_an_attach, tap)
    assert reads[0] == head
    assert b"".join(reads) == head + HELLO


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_daemons_half_close_comes_after_the_stream_and_the_clients_stdin_still_reaches_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = RecordedDaemon(UPGRADED + HELLO, half_close=True)
    async with tap_in_front_of(daemon, monkeypatch) as tap:
        reads = await asyncio.to_thread(reads_of_an_attach, tap, b"input for cat\n")
        # The client's end closes as the daemon's does: what the daemon read is known once its handler has ended.
        await asyncio.wait_for(daemon.answered.wait(), timeout=10)
    assert reads == [UPGRADED, HELLO]
    assert daemon.stdin == b"input for cat\n"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_stream_bigger_than_the_taps_buffers_follows_its_head_whole_and_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stream = os.urandom(8 << 20)
    async with tap_in_front_of(RecordedDaemon(UPGRADED + stream), monkeypatch) as tap:
        reads = await asyncio.to_thread(reads_of_an_attach, tap, dawdle=0.3)
    assert reads[0] == UPGRADED
    assert b"".join(reads[1:]) == stream


def attach_without_stream(address: str, image: str, runs: int) -> list[bytes]:
    """docker-py's test_attach_no_stream, `runs` times; each waits for the container to exit before attaching, so
    its whole output is there to be sent along with the head."""
    client = docker.APIClient(base_url=address, version="1.41")
    outputs = []
    for _ in range(runs):
        container = client.create_container(image, "echo hello")
        try:
            client.start(container)
            client.wait(container)
            outputs.append(client.attach(container, stream=False, logs=True))
        finally:
            client.remove_container(container, force=True)
    client.close()
    return outputs


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_docker_py_attach_without_stream_gets_the_containers_output_through_the_tap(lab: Lab, tap: Tap) -> None:
    outputs = await asyncio.to_thread(attach_without_stream, f"unix://{tap.listen}", lab.base_image, 10)
    assert outputs == [b"hello\n"] * 10
