"""The API tap: a transparent proxy in front of the daemon's socket that records every request a client makes.

1. Listen where archviz.listen says: a unix socket made with the same owner and mode as the daemon's, or a
   TCP port (on loopback, or with TLS that refuses clients without a certificate from the given CA).
2. For each client connection, open one to the daemon and copy bytes both ways as they arrive, unchanged:
   nothing is buffered, so streams (events, logs, pulls) flow as before.
3. Beside the copy, h11 reads the same bytes to find each request and its response (method, target, status,
   timings); it never writes. When the daemon answers `101` (attach, exec), the connection becomes a plain
   two-way byte copy, and a half-close on one side is passed to the other.
4. Each exchange becomes an Observation (archviz.sources.tap), handed to a writer task that stores and
   publishes in batches, so the copy never waits on the database.
A connection the tap cannot parse keeps being copied; only its recording stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import struct
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
from channels.db import database_sync_to_async

from archviz.listen import Listen, start_server
from archviz.observation import Observation, Source
from archviz.publish import publish, publish_pull_from_loop
from archviz.pull_progress import PullState, apply_line
from archviz.sources.tap import Exchange, observation_from_exchange, split_target

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
ERROR_BODY_LIMIT = 64 * 1024
GATHER_SECONDS = 0.05


@dataclass
class PendingRequest:
    started_ns: int
    started: float
    method: str
    target: str
    user_agent: str
    upgrade: bytes
    sequence: int


def peer_pid(writer: asyncio.StreamWriter) -> int | None:
    """The client process, from the unix socket's peer credentials (none over TCP)."""
    sock = writer.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    try:
        pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    except OSError:
        return None
    return pid or None


class Tap:
    def __init__(self, listen: Listen, upstream: Path) -> None:
        self.listen = listen
        self.upstream = upstream
        self.host = f"unix://{upstream}"
        self._connections = itertools.count(1)
        self._queue: asyncio.Queue[Observation] = asyncio.Queue()
        # asyncio holds a connection's task only weakly once the client has closed its side (as `docker run`
        # does on an attach without stdin): without these references the task is collected mid-stream and
        # the container's output never reaches the client.
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> asyncio.AbstractServer:
        server = await start_server(self.listen, self._serve, limit=CHUNK)
        if isinstance(self.listen, Path):
            daemon_socket = self.upstream.stat()
            os.chown(self.listen, daemon_socket.st_uid, daemon_socket.st_gid)
            os.chmod(self.listen, daemon_socket.st_mode & 0o777)
        self._hold(asyncio.get_running_loop().create_task(self._write()))
        return server

    async def stop(self, server: asyncio.AbstractServer) -> None:
        """Stop listening, let the writer store what it holds, and end every connection."""
        server.close()
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if isinstance(self.listen, Path):
            self.listen.unlink(missing_ok=True)

    def _hold(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self) -> None:
        store = database_sync_to_async(publish)
        while True:
            batch = [await self._queue.get()]
            # A command's requests come in a burst: gather them for a moment and store them in one
            # transaction, so that the database work (which shares the interpreter with the copying) stays small.
            deadline = asyncio.get_running_loop().time() + GATHER_SECONDS
            while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            try:
                await store(batch)
            except Exception:  # the copy goes on; only the record is lost, and said so
                log.exception("the tap could not store %d observations", len(batch))

    def _record(self, exchange: Exchange) -> None:
        self._queue.put_nowait(observation_from_exchange(exchange, self.host))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._hold(task)
        number = next(self._connections)
        pid = peer_pid(writer)
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.upstream), limit=CHUNK)
        except OSError as error:
            body = json.dumps({"message": f"archviz tap: the daemon at {self.upstream} cannot be reached "
                                          f"({error.strerror})"}).encode()
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await _close(writer)
            return
        pending: deque[PendingRequest] = deque()
        switched = asyncio.Event()
        try:
            # Each direction runs until its sender is done; one side failing must not cut the other short
            # (an attached container's output keeps flowing after the client closed its input).
            await asyncio.gather(
                _until_done(self._requests(reader, up_writer, pending, switched)),
                _until_done(self._responses(up_reader, writer, pending, switched, number, pid)),
            )
        except asyncio.CancelledError:
            # The tap is stopping: end this connection quietly (asyncio's stream callback would otherwise
            # report the cancelled task as an error).
            pass
        finally:
            up_writer.close()
            writer.close()

    async def _requests(self, reader: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                        pending: deque[PendingRequest], switched: asyncio.Event) -> None:
        parser: h11.Connection | None = h11.Connection(h11.SERVER, max_incomplete_event_size=256 * 1024)
        sequence = itertools.count(1)
        while data := await reader.read(CHUNK):
            if parser is not None and not switched.is_set():
                parser = _read_requests(parser, data, pending, sequence)
            upstream.write(data)
            await upstream.drain()
        # The client closed its side: pass the half-close on (attach and exec rely on it).
        if upstream.can_write_eof():
            upstream.write_eof()

    async def _responses(self, reader: asyncio.StreamReader, client: asyncio.StreamWriter,
                         pending: deque[PendingRequest], switched: asyncio.Event, number: int, pid: int | None) -> None:
        reading = _Responses(self, pending, switched, number, pid)
        while data := await reader.read(CHUNK):
            client.write(data)
            if not switched.is_set() and not reading.broken:
                reading.feed(data)
            await client.drain()
        if client.can_write_eof():
            client.write_eof()


def _read_requests(parser: h11.Connection, data: bytes, pending: deque[PendingRequest],
                   sequence: itertools.count[int]) -> h11.Connection | None:
    """Find requests in the client's bytes; a new parser per request. None when the bytes are not HTTP."""
    parser.receive_data(data)
    while True:
        try:
            event = parser.next_event()
        except h11.RemoteProtocolError:
            return None
        if event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
            return parser
        if isinstance(event, h11.Request):
            headers = dict(event.headers)
            pending.append(PendingRequest(
                started_ns=time.time_ns(), started=time.perf_counter(), method=event.method.decode(),
                target=event.target.decode("latin-1"), user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
                upgrade=headers.get(b"upgrade", b""), sequence=next(sequence),
            ))
        elif isinstance(event, h11.EndOfMessage):
            leftover, _closed = parser.trailing_data
            parser = h11.Connection(h11.SERVER, max_incomplete_event_size=256 * 1024)
            if leftover:
                parser.receive_data(leftover)


class _Responses:
    """Reads the daemon's bytes as responses to the requests in `pending`, in order."""

    def __init__(self, tap: Tap, pending: deque[PendingRequest], switched: asyncio.Event, number: int,
                 pid: int | None) -> None:
        self.tap, self.pending, self.switched, self.number, self.pid = tap, pending, switched, number, pid
        self.parser: h11.Connection | None = None
        self.request: PendingRequest | None = None
        self.response: h11.Response | None = None
        self.error_body = bytearray()
        self.recorded = False
        self.broken = False
        self.progress: PullProgress | None = None

    def feed(self, data: bytes) -> None:
        while data and not self.broken and not self.switched.is_set():
            if self.parser is None and not self._next_request():
                self.broken = True  # bytes with no request to answer: copy on, stop reading
                return
            assert self.parser is not None
            self.parser.receive_data(data)
            data = self._events()

    def _next_request(self) -> bool:
        if not self.pending:
            return False
        self.request = self.pending.popleft()
        self.parser = h11.Connection(h11.CLIENT, max_incomplete_event_size=256 * 1024)
        headers = [(b"host", b"docker")]
        if self.request.upgrade:
            headers += [(b"connection", b"Upgrade"), (b"upgrade", self.request.upgrade)]
        self.parser.send(h11.Request(method=self.request.method, target=self.request.target or "/", headers=headers))
        self.parser.send(h11.EndOfMessage())
        self.response, self.error_body, self.recorded = None, bytearray(), False
        return True

    def _events(self) -> bytes:
        """Handle what the parser has; return bytes that belong to the next response."""
        assert self.parser is not None and self.request is not None
        while True:
            try:
                event = self.parser.next_event()
            except h11.RemoteProtocolError:
                self.broken = True
                return b""
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return b""
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                self._record(101, event.reason.decode("latin-1"), upgraded=True)
                self.switched.set()
                return b""
            if isinstance(event, h11.Response):
                self.response = event
                headers = dict(event.headers)
                streaming = b"content-length" not in headers
                if event.status_code < 400 or streaming:
                    self._record(event.status_code, event.reason.decode("latin-1"))
                if event.status_code == 200:
                    self.progress = PullProgress.for_request(self.tap, self.request, self.number, self.pid)
            elif isinstance(event, h11.Data) and self.progress is not None:
                self.progress.feed(event.data)
            elif isinstance(event, h11.Data) and self.response is not None and not self.recorded:
                if len(self.error_body) < ERROR_BODY_LIMIT:
                    self.error_body += event.data[: ERROR_BODY_LIMIT - len(self.error_body)]
            elif isinstance(event, h11.EndOfMessage):
                if self.response is not None and not self.recorded:
                    self._record(self.response.status_code, self.response.reason.decode("latin-1"),
                                 error=_message(bytes(self.error_body)))
                if self.progress is not None:
                    self.progress.finish()
                    self.progress = None
                leftover, _closed = self.parser.trailing_data
                self.parser = None
                return leftover

    def _record(self, status: int, reason: str, upgraded: bool = False, error: str = "") -> None:
        assert self.request is not None
        self.recorded = True
        self.tap._record(Exchange(
            started_ns=self.request.started_ns, method=self.request.method, target=self.request.target,
            status=status, reason=reason, user_agent=self.request.user_agent, pid=self.pid,
            connection=self.number, sequence=self.request.sequence,
            first_byte_ms=(time.perf_counter() - self.request.started) * 1000, error_message=error,
            upgraded=upgraded,
        ))


class PullProgress:
    """A pull's progress stream (any client's `POST /images/create`), read on the side: the same per-layer
    state the dashboard's own pulls show, broadcast as it changes, and one Observation per layer that lands."""

    def __init__(self, tap: Tap, request: PendingRequest, reference: str, job: str, user: str,
                 correlation: str) -> None:
        self.tap, self.request, self.correlation = tap, request, correlation
        self.state = PullState(reference)
        self.job, self.user = job, user
        self.buffer = b""
        self.finished: set[str] = set()
        self.sizes: dict[str, int] = {}
        self.last_sent = 0.0

    @classmethod
    def for_request(cls, tap: Tap, request: PendingRequest | None, number: int, pid: int | None
                    ) -> PullProgress | None:
        if request is None or request.method != "POST":
            return None
        _version, path, query = split_target(request.target)
        if path != "/images/create" or "fromImage" not in query:
            return None
        reference = f"{query['fromImage']}:{query.get('tag') or 'latest'}"
        user = request.user_agent.split(" ", 1)[0] or "a client"
        return cls(tap, request, reference, f"tap-{number}-{request.sequence}", f"{user} (process {pid or '?'})",
                   f"{pid or ''}:{number}")

    def feed(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        changed = False
        for line in lines:
            try:
                decoded = json.loads(line)
            except ValueError:
                continue
            if isinstance(decoded, dict):
                self.state = apply_line(self.state, decoded)
                changed = True
        if changed:
            self._layers_landed()
            if time.monotonic() - self.last_sent >= 0.1:
                self._broadcast()

    def finish(self) -> None:
        if self.state.status not in ("done", "failed"):
            self.state = PullState(self.state.reference, "done", self.state.message, self.state.layers)
        self._broadcast()

    def _layers_landed(self) -> None:
        for layer in self.state.layers:
            if layer.stage == "Downloading" and layer.total:
                self.sizes[layer.id] = layer.total
            if layer.stage in ("Pull complete", "Already exists") and layer.id not in self.finished:
                self.finished.add(layer.id)
                self.tap._queue.put_nowait(Observation(
                    time_ns=time.time_ns(), source=Source.TAP, host=self.tap.host, kind="api-pull-layer",
                    subject=self.state.reference,
                    attributes={"layer": layer.id, "message": layer.stage, "size": self.sizes.get(layer.id, 0),
                                "user_agent": self.request.user_agent},
                    correlation=self.correlation,  # the same box as the client's requests
                ))

    def _broadcast(self) -> None:
        self.last_sent = time.monotonic()
        wire = {"id": self.job, "host": self.tap.host, "user": self.user, **self.state.to_wire()}
        self.tap._hold(asyncio.get_running_loop().create_task(publish_pull_from_loop(wire)))


def _message(body: bytes) -> str:
    """The daemon's error message from a JSON error body (`{"message": …}`)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:200].decode("utf-8", "replace").strip()
    return str(payload.get("message", "")) if isinstance(payload, dict) else ""


async def _until_done(direction: Coroutine[Any, Any, None]) -> None:
    try:
        await direction
    except (ConnectionError, OSError) as error:
        log.debug("tap connection: %s", error)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
