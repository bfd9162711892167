"""The API tap: a transparent proxy in front of the daemon's socket that records every request a client makes.

1. Listen where archviz.tap.listen says: a unix socket made with the same owner and mode as the daemon's, or a
   TCP port (on loopback, or with TLS that refuses clients without a certificate from the given CA).
2. For each client connection, open one to the daemon and pass bytes both ways as they arrive, unchanged: each
   side is an asyncio Protocol whose received bytes are written straight to the other side's transport, and a
   full outgoing buffer pauses reading on the other side. Nothing is held back, so streams (events, logs,
   pulls) flow as before; a half-close is passed on (attach and exec rely on it); there are no idle timeouts.
   Two exceptions, in time only: a request that can cause effects (its row in archviz.sequence.rules lists
   some) reaches the daemon only once its head is stored, or after CAUSE_SECONDS if the store is slow, so the
   daemon's events and the registry's notifications it causes are stored after the span they belong to, whichever
   process stores them; and an answer head that a raw stream follows (attach's, exec's `101`) is written on its
   own, and what follows it only once the client has read it (see `Side.write_apart`).
3. Beside the copy, h11 reads the same bytes (archviz.tap.reading) to find each request and its answer; after a
   `101` (attach, exec, BuildKit's h2c session) the bytes are only counted. Streamed answers worth reading (a
   pull's, push's or build's progress) are decoded on the side (archviz.tap.progress).
4. Each exchange becomes Observations (archviz.sources.tap), handed to a writer task that stores them in batches
   on a thread of its own, so the copy never waits on the database (except for a cause's head, as above).
A connection the tap cannot parse keeps being copied; only its recording stops.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import json
import logging
import os
import socket
import struct
import termios
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from channels.db import DatabaseSyncToAsync

from archviz.metrics import TAP_REQUESTS, tap_request_labels
from archviz.observation import Observation
from archviz.publish import publish, publish_pull_from_loop
from archviz.sequence.rules import endpoint_for
from archviz.sources.tap import (
    Ending,
    Exchange,
    observation_from_exchange,
    observation_from_request,
    observation_from_stream_end,
)
from archviz.tap.listen import Listen, start_server
from archviz.tap.progress import decoder_for
from archviz.tap.reading import Request, RequestReader, ResponseReader, StreamDecoder

log = logging.getLogger(__name__)
GATHER_SECONDS = 0.05
# After the store refused a batch, the tap tries again after this long, doubling up to RETRY_LONGEST.
RETRY_FIRST, RETRY_LONGEST = 0.25, 5.0
# How much may wait in one side's outgoing buffer before the other side stops being read.
WRITE_BUFFER = 1024 * 1024
# How long the bytes after a raw stream's head wait for the client to read the head, and how often it is looked at.
HOLD_SECONDS = 0.1
HOLD_POLL_SECONDS = 0.001
# How long a request that can cause effects waits for its head to be stored before it goes to the daemon anyway
# (the store restarting, say: the daemon is never made to wait for archviz longer than this).
CAUSE_SECONDS = 1.0


def raw_stream_head_end(data: bytes) -> int:
    """Where the head ends if the daemon's `data` begins with the head of an answer that a raw stream follows: a
    `101`'s, or one with a body (not a 1xx, 204 or 304) framed neither by Content-Length nor by chunks (an attach
    asked without `Upgrade`). Else 0. A chunked body is left alone: a client has to read its chunks through the
    same reader as its head.
    Bytes that only look like such a head (a raw stream's own) cost no more than a short wait: see
    `Side.write_apart`."""
    if not data.startswith(b"HTTP/1."):
        return 0
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return 0
    head = data[:end].lower()
    status = head[9:12]
    raw = status == b"101" or (not status.startswith(b"1") and status not in (b"204", b"304")
                               and b"\ncontent-length:" not in head and b"\ntransfer-encoding:" not in head)
    return end + 4 if raw else 0


def unread(transport: asyncio.Transport) -> int:
    """How much of what was written to `transport` its peer has not read yet, as far as the sender can know: over a
    unix socket, what waits in the peer's receive queue; over TCP, what the peer has not acknowledged."""
    waiting = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is None:
        return waiting
    try:
        queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, bytes(4)))[0]
    except OSError:
        return waiting
    return waiting + queued


def peer_pid(transport: asyncio.BaseTransport) -> int | None:
    """The client process, from the unix socket's peer credentials (none over TCP)."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    try:
        pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    except OSError:
        return None
    return pid or None


def peer_address(transport: asyncio.BaseTransport) -> str:
    """A TCP client's address (the host it connects from); "" on a unix socket."""
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


def process_name(pid: int | None) -> str:
    """The client program's name (`docker`, `python3`): its command line is not read, it can hold secrets."""
    if pid is None:
        return ""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()[:32]
    except OSError:
        return ""


def opens_span(observation: Observation) -> bool:
    return observation.kind == "api-request"


def causes_effects(observation: Observation) -> bool:
    """Whether the request's row lists effects (daemon events, registry notifications) it can cause."""
    return bool(endpoint_for(str(observation.attributes["method"]), str(observation.attributes["path"])).causes)


class Tap:
    def __init__(self, listen: Listen, upstream: Path) -> None:
        self.listen = listen
        self.upstream = upstream
        self.host = f"unix://{upstream}"
        self._connections = itertools.count(1)
        # Each observation with the future its storing resolves, for a cause's head (None for the rest).
        self._queue: asyncio.Queue[tuple[Observation, asyncio.Future[None] | None]] = asyncio.Queue()
        self._links: set[Link] = set()
        self._tasks: set[asyncio.Task[Any]] = set()  # asyncio holds tasks only weakly
        # The writer's thread (with its own database connection): never queued behind the views' thread.
        self._storing = ThreadPoolExecutor(1, thread_name_prefix="tap-store")

    async def start(self) -> asyncio.AbstractServer:
        server = await start_server(self.listen, lambda: Link(self).client)
        if isinstance(self.listen, Path):
            daemon_socket = self.upstream.stat()
            os.chown(self.listen, daemon_socket.st_uid, daemon_socket.st_gid)
            os.chmod(self.listen, daemon_socket.st_mode & 0o777)
        self.hold(asyncio.get_running_loop().create_task(self._write()))
        return server

    async def stop(self, server: asyncio.AbstractServer) -> None:
        """Stop listening, end every connection (recording how), let the writer store what it holds."""
        server.close()
        for link in list(self._links):
            link.finish(Ending.TAP_STOPPED)
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        await asyncio.sleep(GATHER_SECONDS * 2)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._storing.shutdown(wait=False)  # a store under way finishes on its own
        if isinstance(self.listen, Path):
            self.listen.unlink(missing_ok=True)

    def hold(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def emit(self, observation: Observation) -> None:
        self._queue.put_nowait((observation, None))

    def store_first(self, observation: Observation) -> asyncio.Future[None]:
        """`emit`, with a future that is done once the observation is stored."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((observation, stored))
        return stored

    def call(self, exchange: Exchange) -> None:
        TAP_REQUESTS.labels(*tap_request_labels(exchange.method, exchange.status)).inc()
        self.emit(observation_from_exchange(exchange, self.host))

    def end(self, exchange: Exchange, ending: Ending) -> None:
        self.emit(observation_from_stream_end(exchange, ending, self.host))

    def decoder_for(self, request: Request, exchange: Exchange) -> StreamDecoder | None:
        return decoder_for(request, exchange, self.host, self.emit, self.broadcast_pull)

    def broadcast_pull(self, pull: dict[str, Any]) -> None:
        self.hold(asyncio.get_running_loop().create_task(publish_pull_from_loop(pull)))

    async def _write(self) -> None:
        store = DatabaseSyncToAsync(publish, thread_sensitive=False, executor=self._storing)
        loop = asyncio.get_running_loop()
        while True:
            waiting = [await self._queue.get()]
            # A command's answers come in a burst: gather them for a moment and store them in one
            # transaction, so that the database work (which shares the interpreter with the copying) stays small.
            # But a request's head is stored at once: it opens the span that the daemon's events and the
            # registry's notifications it causes belong to.
            deadline = loop.time() + GATHER_SECONDS
            while not any(opens_span(observation) for observation, _ in waiting) and (
                    remaining := deadline - loop.time()) > 0:
                try:
                    waiting.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            batch = [observation for observation, _ in waiting]
            # The copy goes on whatever happens here; the batch stays in hand until the store takes it (the store
            # restarting, say), and what comes meanwhile waits in the queue. Each observation's key makes a batch
            # stored twice (its commit went through, its answer was lost) count once.
            delay = RETRY_FIRST
            while True:
                try:
                    await store(batch)
                    for _, stored in waiting:
                        if stored is not None and not stored.done():
                            stored.set_result(None)
                    break
                except Exception:
                    log.exception("the tap could not store %d observations; retrying in %.2f s", len(batch), delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_LONGEST)


class Side(asyncio.Protocol):
    """One end of a tapped connection: the client's or the daemon's. What it receives goes to the Link."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.writing_paused = False
        # While a raw stream's head waits to be read, what comes after it waits here (see write_apart).
        self.held: list[bytes] | None = None
        self.release_by = 0.0
        self.holding: asyncio.Handle | None = None
        self.waiting_for: set[asyncio.Future[None]] = set()  # what `hold_until` waits for

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_BUFFER)
        self.link.made(self)

    def data_received(self, data: bytes) -> None:
        self.link.received(self, data)

    def eof_received(self) -> bool:
        self.eof = True
        self.link.half_closed(self)
        return True  # keep the other direction open

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.lost(self)

    def pause_writing(self) -> None:
        self.writing_paused = True
        self.link.peer(self).pause()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.held is None:
            self.link.peer(self).resume()

    def pause(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.held is not None:
            self.held.append(data)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def write_apart(self, head: bytes, rest: bytes) -> None:
        """Write a raw stream's head so that the client reads it on its own: `rest`, and whatever the other side sends
        next, is written only once the client has read the head (or after HOLD_SECONDS).
        Two writes are not enough: the kernel hands a reader all that waits in its socket at once, and a client
        that reads the head through a buffer and the stream from the socket under it (docker-py's attach, exec)
        loses the stream bytes that came in the same read. Meanwhile the other side is not read, so what it sends
        next, its half-close and its close keep their order behind `rest`."""
        self.write(head)
        if self.held is None:
            self.held = []
            self.link.peer(self).pause()
            loop = asyncio.get_running_loop()
            self.release_by = loop.time() + HOLD_SECONDS
            self.holding = loop.call_soon(self._release_once_read)
        self.write(rest)

    def hold_until(self, stored: asyncio.Future[None], seconds: float) -> None:
        """Write nothing more (and read nothing from the other side) until `stored` is done, or for `seconds` at
        most; what is written meanwhile waits, in order. Holds for several futures end when all are done."""
        if self.held is None:
            self.held = []
            self.link.peer(self).pause()
            self.holding = asyncio.get_running_loop().call_later(seconds, self.release)
        self.waiting_for.add(stored)
        stored.add_done_callback(self._stored)

    def _stored(self, stored: asyncio.Future[None]) -> None:
        self.waiting_for.discard(stored)
        if not self.waiting_for:
            self.release()

    def _release_once_read(self) -> None:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        if unread(self.transport) and loop.time() < self.release_by:
            self.holding = loop.call_later(HOLD_POLL_SECONDS, self._release_once_read)
        else:
            self.release()

    def release(self) -> None:
        """Write what is held, and read the other side again (unless this side's buffer is full)."""
        if self.held is None:
            return
        held, self.held = self.held, None
        self.waiting_for.clear()
        assert self.holding is not None
        self.holding.cancel()
        for data in held:
            self.write(data)
        if not self.writing_paused:
            self.link.peer(self).resume()

    def write_eof(self) -> None:
        self.release()
        if self.transport is not None and self.transport.can_write_eof() and not self.transport.is_closing():
            self.transport.write_eof()

    def close(self) -> None:
        self.release()  # a closing transport still sends what it was given
        if self.transport is not None:
            self.transport.close()


class Link:
    """A client connection and its daemon connection, the bytes between them, and what they are read as."""

    def __init__(self, tap: Tap) -> None:
        self.tap = tap
        self.client, self.daemon = Side(self), Side(self)
        self.number = next(tap._connections)
        self.pending: deque[Request] = deque()
        self.requests = RequestReader(self.pending, self._announce)
        self.responses: ResponseReader | None = None
        self.first_to_close: Side | None = None
        self.finished = False
        self.reading_failed = False
        self.early: list[bytes] = []

    def peer(self, side: Side) -> Side:
        return self.daemon if side is self.client else self.client

    def made(self, side: Side) -> None:
        if side is self.client:
            assert side.transport is not None
            side.transport.pause_reading()  # until the daemon answers the phone
            pid = peer_pid(side.transport)
            self.responses = ResponseReader(self.pending, self.number, pid, process_name(pid), self.tap.call,
                                            self.tap.end, self.tap.decoder_for, peer_address(side.transport))
            self.tap._links.add(self)
            self.tap.hold(asyncio.get_running_loop().create_task(self._connect()))

    async def _connect(self) -> None:
        try:
            await asyncio.get_running_loop().create_unix_connection(lambda: self.daemon, str(self.tap.upstream))
        except OSError as error:
            body = json.dumps({"message": f"archviz tap: the daemon at {self.tap.upstream} cannot be reached "
                                          f"({error.strerror or error})"}).encode()
            self.client.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nConnection: close\r\n"
                              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            self.client.close()
            self.tap._links.discard(self)
            return
        if self.finished:  # the client left while the daemon was being reached
            self.daemon.close()
            return
        for data in self.early:
            self.daemon.write(data)
        self.early.clear()
        if self.client.eof:
            self.half_closed(self.client)
        if self.daemon.held is None:  # else the client is read again once what is held is written
            self.client.resume()

    def _announce(self, request: Request) -> None:
        assert self.responses is not None
        observation = observation_from_request(self.responses.exchange_for(request, 0, ""), self.tap.host)
        if causes_effects(observation):
            self.daemon.hold_until(self.tap.store_first(observation), CAUSE_SECONDS)
        else:
            self.tap.emit(observation)

    def received(self, side: Side, data: bytes) -> None:
        if side is self.daemon:
            if end := raw_stream_head_end(data):
                self.client.write_apart(data[:end], data[end:])
            else:
                self.client.write(data)  # first pass it on, then read it
            self._read(lambda responses: responses.feed(data))
            return
        # A client's bytes are read first: a request that can cause effects is held until its head is stored.
        self.requests.mark_arrival()
        self._read(lambda responses: responses.upgraded_input(len(data)) if responses.upgraded
                   else self.requests.feed(data))
        if self.daemon.transport is None:
            self.early.append(data)  # decrypted TLS bytes can come before the daemon's connection is made
        else:
            self.daemon.write(data)

    def _read(self, step: Callable[[ResponseReader], None]) -> None:
        if self.responses is None or self.reading_failed:
            return
        try:
            step(self.responses)
        except Exception:  # reading is on the side: whatever it trips on, the bytes go on
            self.reading_failed = True
            log.exception("the tap stopped reading connection %d", self.number)

    def half_closed(self, side: Side) -> None:
        self.first_to_close = self.first_to_close or side
        if side is self.daemon:
            self._read(lambda responses: responses.ended(Ending.DAEMON_GONE))
        elif not self.daemon.eof:
            self._read(lambda responses: responses.client_closed())
        self.peer(side).write_eof()
        if self.client.eof and self.daemon.eof:
            self.finish(self._ending())

    def lost(self, side: Side) -> None:
        self.first_to_close = self.first_to_close or side
        self.finish(self._ending())

    def finish(self, ending: Ending) -> None:
        """The connection is over (or the tap stops it): record how, and close both ends."""
        if self.finished:
            return
        self.finished = True
        self.tap._links.discard(self)
        self._read(lambda responses: responses.ended(ending))
        self.client.close()
        self.daemon.close()

    def _ending(self) -> Ending:
        return Ending.CLIENT_GONE if self.first_to_close is self.client else Ending.DAEMON_GONE
