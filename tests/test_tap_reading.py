"""Reading a tapped connection as HTTP on the side: what the tap makes of the bytes, however they are cut up,
and of peers that stop half-way or do not speak HTTP."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archviz.sources.tap import Ending, Exchange, created_command
from archviz.tap.reading import NOT_HTTP, Request, RequestReader, ResponseReader, StreamDecoder

PING = b"HEAD /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\n\r\n"
PONG = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n"
CREATE = (b"POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
          b"Content-Length: 36\r\n\r\n" + b'{"Image":"x","Env":["TOKEN=s3cret"]}')
CREATED = (b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n"
           + b'{"Id":"abc123","Warnings":[]}')
EVENTS = b"GET /v1.41/events HTTP/1.1\r\nHost: docker\r\n\r\n"
STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


class Recorder:
    def __init__(self) -> None:
        self.pending: deque[Request] = deque()
        self.announced: list[Request] = []
        self.requests = RequestReader(self.pending, self.announced.append)
        self.calls: list[Exchange] = []
        self.ends: list[tuple[Exchange, Ending]] = []
        self.bodies: list[bytes] = []
        self.responses = ResponseReader(self.pending, 1, 42, "docker", self.calls.append,
                                        lambda exchange, ending: self.ends.append((exchange, ending)),
                                        self.decoder_for)

    def decoder_for(self, request: Request, exchange: Exchange) -> StreamDecoder | None:
        recorder = self

        class Collect:
            def feed(self, data: bytes) -> None:
                recorder.bodies.append(data)

            def finish(self, ending: Ending) -> None:
                recorder.bodies.append(f"<{ending}>".encode())

        return Collect() if request.target.endswith("/events") else None


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_request_and_its_answer_are_one_call_with_sizes_status_and_the_new_container() -> None:
    tap = Recorder()
    tap.requests.feed(PING + CREATE)
    tap.responses.feed(PONG + CREATED)  # a HEAD answer has no body
    ping, create = tap.calls
    assert (ping.method, ping.status, ping.response_bytes, ping.request_bytes) == ("HEAD", 200, len(PONG), len(PING))
    assert (create.status, create.container, create.request_bytes) == (201, "abc123", len(CREATE))
    assert create.response_bytes == len(CREATED)
    assert (ping.pid, ping.user_agent) == (42, "Docker-Client/28.2.2 (linux)")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_however_the_bytes_are_cut_up_the_same_exchanges_are_read(data: st.DataObject) -> None:
    client = PING + CREATE + EVENTS
    daemon = PONG + CREATED + STREAM_HEAD + chunk(b'{"status":"start"}\n') + chunk(b'{"x":1}\n') + b"0\r\n\r\n"
    tap = Recorder()
    for stream, feed in ((client, tap.requests.feed), (daemon, tap.responses.feed)):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            feed(stream[start:end])
    assert [(c.method, c.status, c.streamed) for c in tap.calls] == [("HEAD", 200, False), ("POST", 201, False),
                                                                      ("GET", 200, True)]
    assert [(e.status, ending) for e, ending in tap.ends] == [(200, Ending.COMPLETE)]
    assert b"".join(tap.bodies) == b'{"status":"start"}\n{"x":1}\n<complete>'


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_bulk_stream_nobody_reads_is_framed_to_its_end_however_it_is_cut_up(data: st.DataObject) -> None:
    tap = Recorder()
    tap.requests.feed(b"GET /v1.41/images/get?names=x HTTP/1.1\r\nHost: docker\r\n\r\n")
    body = b"".join(chunk(bytes([n]) * (n * 97 % 5000 + 1)) for n in range(40)) + b"0\r\n\r\n"
    stream = STREAM_HEAD + body
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        tap.responses.feed(stream[start:end])
    assert [(e.response_bytes, ending) for e, ending in tap.ends] == [(len(stream), Ending.COMPLETE)]
    tap.requests.feed(PING)  # asked only after the whole answer was read
    tap.responses.feed(PONG)
    assert [(c.method, c.status) for c in tap.calls] == [("GET", 200), ("HEAD", 200)]


def test_a_bulk_stream_cut_short_by_the_daemon_is_not_complete() -> None:
    tap = Recorder()
    tap.requests.feed(b"GET /v1.41/images/get?names=x HTTP/1.1\r\nHost: docker\r\n\r\n")
    tap.responses.feed(STREAM_HEAD + chunk(b"x" * 100) + b"1000\r\nonly part")
    tap.responses.ended(Ending.DAEMON_GONE)
    assert [ending for _e, ending in tap.ends] == [Ending.DAEMON_GONE]


def test_a_stream_the_daemon_cuts_short_ends_as_such_and_one_it_ends_by_closing_is_complete() -> None:
    tap = Recorder()
    tap.requests.feed(EVENTS)
    tap.responses.feed(STREAM_HEAD + chunk(b'{"status":"start"}\n') + b"40\r\npartial")
    tap.responses.ended(Ending.DAEMON_GONE)
    assert [ending for _e, ending in tap.ends] == [Ending.DAEMON_GONE]
    closing = Recorder()
    closing.requests.feed(b"GET /v1.41/containers/x/logs?follow=1 HTTP/1.1\r\nHost: docker\r\n\r\n")
    closing.responses.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nline one\nline two\n")
    closing.responses.ended(Ending.DAEMON_GONE)
    assert [(e.response_bytes > 18, ending) for e, ending in closing.ends] == [(True, Ending.COMPLETE)]


def test_a_client_that_leaves_mid_stream_is_recorded_as_gone_whatever_the_daemon_does_next() -> None:
    tap = Recorder()
    tap.requests.feed(EVENTS)
    tap.responses.feed(STREAM_HEAD + chunk(b'{"status":"start"}\n'))
    tap.responses.client_closed()
    tap.responses.feed(b"0\r\n\r\n")
    tap.responses.ended(Ending.CLIENT_GONE)
    assert [ending for _e, ending in tap.ends] == [Ending.CLIENT_GONE]


def test_requests_the_daemon_never_answers_are_recorded_with_no_answer() -> None:
    tap = Recorder()
    tap.requests.feed(PING + b"POST /v1.41/images/load HTTP/1.1\r\nHost: docker\r\nContent-Length: 1000000000\r\n\r\n"
                      + b"\0" * 4096)
    tap.responses.ended(Ending.DAEMON_GONE)
    assert [(c.method, c.status, c.reason) for c in tap.calls] == [
        ("HEAD", 0, "no answer: the daemon closed the connection"),
        ("POST", 0, "no answer: the daemon closed the connection"),
    ]
    assert tap.calls[1].request_bytes > 4096


def test_bytes_that_are_not_http_are_recorded_once_with_the_daemons_answer() -> None:
    tap = Recorder()
    tap.requests.feed(b"\x00\x01GARBAGE NOT HTTP\r\n\r\n")
    tap.requests.feed(b"more garbage")
    tap.responses.feed(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                       b"\r\n400 Bad Request")
    tap.responses.ended(Ending.DAEMON_GONE)
    [call] = tap.calls
    assert (call.target, call.status, call.error_message) == (NOT_HTTP, 400, "400 Bad Request")


def test_a_wait_answers_with_the_exit_code_and_an_attach_counts_bytes_both_ways() -> None:
    tap = Recorder()
    tap.requests.feed(b"POST /v1.41/containers/abc/wait?condition=removed HTTP/1.1\r\nHost: docker\r\n"
                      b"Content-Length: 0\r\n\r\n")
    tap.responses.feed(STREAM_HEAD + chunk(b'{"Error":null,"StatusCode":3}\n') + b"0\r\n\r\n")
    assert [(e.exit_code, ending) for e, ending in tap.ends] == [(3, Ending.COMPLETE)]
    attach = Recorder()
    head = (b"POST /v1.41/containers/abc/attach?stdin=1&stream=1 HTTP/1.1\r\nHost: docker\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    attach.requests.feed(head)
    attach.responses.feed(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello")
    attach.responses.upgraded_input(6)
    attach.responses.feed(b" world")
    attach.responses.ended(Ending.CLIENT_GONE)
    [(stream, ending)] = attach.ends
    assert (stream.upgraded, ending, stream.request_bytes - len(head)) == (True, Ending.CLOSED, 6)
    assert stream.response_bytes > len(b"hello world")


def test_every_request_is_announced_as_soon_as_its_head_arrives_and_its_answer_says_so() -> None:
    tap = Recorder()
    tap.requests.feed(b"POST /v1.41/images/create?fromImage=127.0.0.1%3A5000%2Flab%2Fapp&tag=1 HTTP/1.1\r\n"
                      b"Host: docker\r\nX-Registry-Auth: e30=\r\nContent-Length: 0\r\n\r\n")
    assert [r.method for r in tap.announced] == ["POST"] and tap.calls == []
    tap.requests.feed(PING)
    assert [r.method for r in tap.announced] == ["POST", "HEAD"]  # a span opens with every request
    tap.responses.feed(STREAM_HEAD)
    assert [(c.status, c.announced) for c in tap.calls] == [(200, True)]


@pytest.mark.parametrize(("body", "command"), [
    (b'{"Image": "ubuntu", "Cmd": ["echo", "hi"]}', "echo hi"),
    (b'{"Image": "busybox", "Cmd": ["sh", "-c", "echo a b; exit 3"]}', "sh -c 'echo a b; exit 3'"),
    (b'{"Image": "mysql", "Cmd": ["mysql", "-uroot", "-phunter2"]}', "mysql -uroot -p***"),
    (b'{"Image": "app", "Cmd": ["env", "API_TOKEN=abc123", "run"]}', "env API_TOKEN=*** run"),
    (b'{"Image": "nginx", "Cmd": null}', ""),  # the image's own command
    (b'{"Image": "nginx", "Cmd": "top"}', "top"),
    (b'{"Image": "nginx", "Cmd": ["ok", 3]}', ""),
    (b'{"Image": "nginx", "Cmd": ["x' + b"y" * 5000 + b'"]}', "x" + "y" * 299),
    (b"[1, 2]", ""),
    (b'{"Cmd": ["cut', ""),  # a body cut short
    (b"\xff\xfe", ""),
    (None, ""),
])
def test_a_create_requests_command_is_read_off_its_body_with_secrets_masked(body: bytes | None, command: str) -> None:
    assert created_command(body) == command
