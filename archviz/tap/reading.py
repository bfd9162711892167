"""Reading a tapped connection's bytes as HTTP, on the side: h11 parses copies of what the tap forwards and never
writes, so what it makes of them cannot change what client and daemon see.

1. `RequestReader` finds each request in the client's bytes (a fresh h11 server parser per request), queues it
   and announces it at once, as its head arrives: a request opens a span, and what the daemon and the registry
   do because of it (heard from them, maybe before the answer) belongs to that span. Bytes that are not HTTP are
   queued once as such, so the daemon's answer to them is still recorded.
2. `ResponseReader` reads the daemon's bytes as the answers to those requests, in order (a fresh h11 client
   parser per answer, primed with a synthetic copy of its request so that HEAD and `101` are read right).
   An answer that is complete at once is reported when it ends; a streamed one when it starts and again when it
   ends; after a `101` the connection is a raw stream whose bytes are only counted.
   A streamed body nobody reads (a `docker save`'s archive, events, logs) is only framed, by llhttp
   (httptools), which skips body bytes in C: h11 spent some 15% of a core on the chunks of a `docker save`.
3. When the connection is over, whatever is unfinished is ended with how the connection ended.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import h11
import httptools

from archviz.sources.tap import Ending, Exchange, created_command, split_target

MAX_HEAD = 256 * 1024
BODY_LIMIT = 64 * 1024
NOT_HTTP = "(bytes that are not HTTP/1.1)"


@dataclass
class Request:
    started_ns: int
    started: float
    method: str
    target: str
    user_agent: str
    upgrade: bytes
    sequence: int
    bytes: int = 0
    announced: bool = False
    body: bytearray | None = None  # kept for a container's create only: its command names the `docker run`


class StreamDecoder(Protocol):
    """Reads a streamed answer's body on the side (a pull's progress, say)."""

    def feed(self, data: bytes) -> None: ...

    def finish(self, ending: Ending) -> None: ...


class RequestReader:
    def __init__(self, pending: deque[Request], announce: Callable[[Request], None]) -> None:
        self.pending, self.announce = pending, announce
        self.parser = _parser(h11.SERVER)
        self.sequence = itertools.count(1)
        self.current: Request | None = None
        self.fed = 0
        self.broken = False
        self.arrived = (time.time_ns(), time.perf_counter())

    def mark_arrival(self) -> None:
        """Bytes from the client arrive now: called before they are passed on, so that a request's time is never
        later than what the daemon does about it."""
        self.arrived = (time.time_ns(), time.perf_counter())

    def feed(self, data: bytes) -> None:
        if self.broken or not data:  # b"" would tell h11 the connection closed
            return
        self.parser.receive_data(data)
        self.fed += len(data)
        while True:
            try:
                event = self.parser.next_event()
            except h11.RemoteProtocolError:
                self._not_http()
                return
            if event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                break
            if isinstance(event, h11.Request):
                headers = dict(event.headers)
                self.current = self._queue(event.method.decode(), event.target.decode("latin-1"),
                                           headers.get(b"user-agent", b"").decode("latin-1"),
                                           headers.get(b"upgrade", b""))
                self.current.announced = True
                if self.current.method == "POST" and split_target(self.current.target)[1] == "/containers/create":
                    self.current.body = bytearray()
                self.announce(self.current)
            elif isinstance(event, h11.Data):
                body = self.current.body if self.current is not None else None
                if body is not None and len(body) < BODY_LIMIT:
                    body += event.data[: BODY_LIMIT - len(body)]
            elif isinstance(event, h11.EndOfMessage):
                leftover, _closed = self.parser.trailing_data
                if self.current is not None:
                    self.current.bytes = self.fed - len(leftover)
                self.current, self.parser, self.fed = None, _parser(h11.SERVER), len(leftover)
                if leftover:
                    self.parser.receive_data(leftover)
        if self.current is not None:
            self.current.bytes = self.fed

    def _not_http(self) -> None:
        """Bytes that are not HTTP: the daemon will answer them (with a 400) and close; the rest is not read."""
        self.broken = True
        if self.current is None:
            self.current = self._queue("-", NOT_HTTP, "", b"")
        self.current.bytes = self.fed

    def _queue(self, method: str, target: str, user_agent: str, upgrade: bytes) -> Request:
        request = Request(started_ns=self.arrived[0], started=self.arrived[1], method=method, target=target,
                          user_agent=user_agent, upgrade=upgrade, sequence=next(self.sequence))
        self.pending.append(request)
        return request


class ResponseReader:
    def __init__(self, pending: deque[Request], connection: int, pid: int | None, process: str,
                 call: Callable[[Exchange], None], end: Callable[[Exchange, Ending], None],
                 decoder_for: Callable[[Request, Exchange], StreamDecoder | None], peer: str = "") -> None:
        self.pending, self.connection, self.pid, self.process = pending, connection, pid, process
        self.peer = peer
        self.call, self.end, self.decoder_for = call, end, decoder_for
        self.parser: h11.Connection | None = None
        self.request: Request | None = None
        self.exchange: Exchange | None = None
        self.decoder: StreamDecoder | None = None
        self.body = bytearray()
        self.keep_body = False
        self.fed = 0
        self.upgraded = False
        self.broken = False
        self.framing: httptools.HttpResponseParser | None = None
        self.close_delimited = False
        self.framed, self.framed_begun = False, 0

    def feed(self, data: bytes) -> None:
        if self.upgraded:
            assert self.exchange is not None
            self.exchange.response_bytes += len(data)
            return
        if self.framing is not None:
            self.fed += len(data)
            self._frame(data)
            return
        while data and not self.broken and not self.upgraded:
            if self.parser is None and not self._next_request():
                self.broken = True  # bytes with no request to answer: copied on, not read
                return
            assert self.parser is not None
            self.parser.receive_data(data)
            self.fed += len(data)
            data = self._events()

    def upgraded_input(self, size: int) -> None:
        """Bytes the client sent into a raw stream (a container's stdin)."""
        if self.request is not None:
            self.request.bytes += size

    def client_closed(self) -> None:
        """The client closed its side. On a raw stream that is ordinary (no more stdin); during a streamed answer
        it means the client went away, whatever the daemon does next."""
        if self.exchange is not None and self.exchange.streamed and not self.upgraded:
            self._finish(Ending.CLIENT_GONE, self.fed)
            self.framing, self.broken = None, True

    def ended(self, ending: Ending) -> None:
        """The connection is over: end the answer under way, and say that queued requests got none."""
        if self.exchange is not None and self.upgraded:
            self._finish(Ending.TAP_STOPPED if ending is Ending.TAP_STOPPED else Ending.CLOSED, self.fed)
        elif self.exchange is not None and self.framing is not None:
            complete = ending is Ending.DAEMON_GONE and self.close_delimited
            self.framing = None
            self._finish(Ending.COMPLETE if complete else ending, self.fed)
        elif self.exchange is not None and ending is Ending.DAEMON_GONE and self.parser is not None:
            # An answer delimited by the connection's close is complete now; a chunked one cut short is not.
            self.parser.receive_data(b"")
            self._events()
            if self.exchange is not None:
                self._finish(Ending.DAEMON_GONE, self.fed)
        elif self.exchange is not None:
            self._finish(ending, self.fed)
        elif self.request is not None and self.parser is not None:  # asked, and no answer began
            self.exchange = self._exchange(0, _NO_ANSWER[ending])
            self._finish(ending, self.fed)
        self.parser = None
        while self.pending:
            self.request = self.pending.popleft()
            self.exchange = self._exchange(0, _NO_ANSWER[ending])
            self._finish(ending, 0)

    def _next_request(self) -> bool:
        if not self.pending:
            return False
        self.request = self.pending.popleft()
        self.parser = _parser(h11.CLIENT)
        method = self.request.method if self.request.method != "-" else "GET"
        target = self.request.target if self.request.method != "-" else "/"
        headers = [(b"host", b"docker")]
        if self.request.upgrade:
            headers += [(b"connection", b"Upgrade"), (b"upgrade", self.request.upgrade)]
        self.parser.send(h11.Request(method=method, target=target or "/", headers=headers))
        self.parser.send(h11.EndOfMessage())
        self.fed, self.body, self.keep_body, self.decoder = 0, bytearray(), False, None
        self.framed, self.framed_begun = False, 0
        return True

    def _events(self) -> bytes:
        """Handle what the parser has; return bytes that belong to the next answer."""
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
                self.exchange = self._exchange(101, event.reason.decode("latin-1"))
                self.exchange.upgraded = self.exchange.streamed = True
                self.exchange.response_bytes = self.fed  # the head, and any raw bytes that came with it
                self.call(self.exchange)
                self.upgraded = True
                return b""
            if isinstance(event, h11.Response):
                self._answer(event)
                if self.framing is not None:
                    rest, _closed = self.parser.trailing_data
                    self.parser = None
                    self._frame(rest)
                    return b""
            elif isinstance(event, h11.Data):
                if self.decoder is not None:
                    self.decoder.feed(event.data)
                if self.keep_body and len(self.body) < BODY_LIMIT:
                    self.body += event.data[: BODY_LIMIT - len(self.body)]
            elif isinstance(event, h11.EndOfMessage):
                leftover, _closed = self.parser.trailing_data
                self._finish(Ending.COMPLETE, self.fed - len(leftover))
                self.parser = None
                return leftover

    def _answer(self, response: h11.Response) -> None:
        assert self.request is not None
        status = response.status_code
        exchange = self.exchange = self._exchange(status, response.reason.decode("latin-1"))
        _version, path, _query = split_target(self.request.target)
        headers = dict(response.headers)
        exchange.streamed = (status < 400 and b"content-length" not in headers and status not in (204, 304)
                             and self.request.method != "HEAD")
        self.keep_body = status >= 400 or path.endswith("/wait") or (path == "/containers/create" and status == 201)
        if exchange.streamed:
            self.call(exchange)
            if status == 200:
                self.decoder = self.decoder_for(self.request, exchange)
            if self.decoder is None and not self.keep_body:
                chunked = headers.get(b"transfer-encoding", b"").lower() == b"chunked"
                self.close_delimited = not chunked
                self.framing = httptools.HttpResponseParser(self)
                self.framing.feed_data(b"HTTP/1.1 200 OK\r\n" + (b"Transfer-Encoding: chunked\r\n" if chunked
                                                                     else b"Connection: close\r\n") + b"\r\n")

    def _frame(self, data: bytes) -> None:
        """Feed a bulk body to llhttp; end the answer when its last chunk has come."""
        assert self.framing is not None
        try:
            self.framing.feed_data(data)
        except httptools.HttpParserError:
            self.framing, self.broken = None, True
            return
        if self.framed:
            self.framing = None
            self._finish(Ending.COMPLETE, self.fed)
            # A client asks again only once it has read all of an answer, so nothing can follow in the same read,
            # unless it pipelines: then where the next answer began is unknown, and reading stops.
            self.broken = self.framed_begun > 1

    def on_message_begin(self) -> None:
        """llhttp: a message begins (the synthetic head's, or one that followed the body)."""
        self.framed_begun += 1

    def on_message_complete(self) -> None:
        """llhttp: a framed body is complete."""
        self.framed = True

    def _finish(self, ending: Ending, response_bytes: int) -> None:
        exchange, request = self.exchange, self.request
        assert exchange is not None and request is not None
        exchange.duration_ms = (time.perf_counter() - request.started) * 1000
        exchange.response_bytes = response_bytes if not self.upgraded else exchange.response_bytes
        exchange.request_bytes = request.bytes
        body = _json(bytes(self.body))
        if exchange.status >= 400 or "message" in body:
            exchange.error_message = str(body.get("message", "")) or bytes(self.body[:200]).decode("utf-8", "replace")
        if isinstance(body.get("Id"), str):
            exchange.container = body["Id"]
        if isinstance(body.get("StatusCode"), int):
            exchange.exit_code = body["StatusCode"]
            error = body.get("Error")
            if isinstance(error, dict) and error.get("Message"):
                exchange.error_message = str(error["Message"])
        if self.decoder is not None:
            self.decoder.finish(ending)
        if exchange.streamed:
            self.end(exchange, ending)
        else:
            self.call(exchange)
        self.exchange, self.decoder, self.body = None, None, bytearray()

    def _exchange(self, status: int, reason: str) -> Exchange:
        assert self.request is not None
        return self.exchange_for(self.request, status, reason)

    def exchange_for(self, request: Request, status: int, reason: str) -> Exchange:
        """What is known of a request on this connection, with the answer's status so far."""
        return Exchange(
            started_ns=request.started_ns, method=request.method, target=request.target, status=status,
            reason=reason, user_agent=request.user_agent, pid=self.pid, process=self.process, peer=self.peer,
            connection=self.connection, sequence=request.sequence,
            first_byte_ms=(time.perf_counter() - request.started) * 1000, announced=request.announced,
            command=created_command(request.body),
        )


_NO_ANSWER = {
    Ending.COMPLETE: "no answer", Ending.CLOSED: "no answer",
    Ending.CLIENT_GONE: "no answer: the client went away first",
    Ending.DAEMON_GONE: "no answer: the daemon closed the connection",
    Ending.TAP_STOPPED: "no answer: the tap was stopped",
}


def _parser(role: type[h11.CLIENT] | type[h11.SERVER]) -> h11.Connection:
    return h11.Connection(role, max_incomplete_event_size=MAX_HEAD)


def _json(body: bytes) -> dict[str, object]:
    """A small JSON object body (an error, a created container, a wait's result), or {}."""
    if not body:
        return {}
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}
