"""The tap source: one HTTP exchange between a Docker client and the daemon -> Observations. Pure.

Every request is a span, named by `span` (its connection, its place on it, and when it came): an `api-request`
the moment its head arrives (what the daemon and the registry do because of it can be heard before its answer), an
`api-call` with its answer (when the answer is complete, or when it starts streaming: events, logs, a pull's
progress, a wait, an attach's raw stream) and, for a streamed answer, an `api-stream-end` when it ends, with the
bytes each way, how long it ran and how it ended.

What is kept is what the diagram needs and nothing secret: the method, the path without its API version, the
version, the query with values only for parameters known to hold no secret, the status, timings, byte counts, the
client's user agent, process id and program name (never its command line), a container's id and a wait's exit code.
Request and response bodies are never kept (a `containers/create` body holds environment values, `/auth` holds a
password), nor any header but the user agent: `X-Registry-Auth` and `X-Registry-Config` carry credentials.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlsplit

from archviz.observation import Observation, Source
from archviz.secrets import mask_command

_VERSION = re.compile(r"^/v(?P<version>\d+\.\d+)(?P<path>/.*)$")
_CONTAINER = re.compile(r"^/containers/(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]{0,127})/")
# Query parameters whose values say what was asked and can hold no secret.
SAFE_QUERY = frozenset({
    "fromImage", "fromSrc", "tag", "repo", "name", "all", "force", "v", "link", "stream", "stdin", "stdout",
    "stderr", "logs", "follow", "timestamps", "tail", "since", "until", "condition", "signal", "t", "detachKeys",
    "noprune", "size", "filters", "h", "w", "platform", "q", "dockerfile", "rm", "forcerm", "pull", "nocache",
    "names", "quiet",
})
ERROR_MESSAGE_LIMIT = 300
COMMAND_LIMIT = 300  # characters of a created container's command kept


class Ending(StrEnum):
    """How a streamed answer ended."""

    COMPLETE = "complete"  # the daemon finished the answer
    CLOSED = "closed"  # a raw (upgraded) stream that both sides closed
    CLIENT_GONE = "client-gone"  # the client went away before the answer was complete
    DAEMON_GONE = "daemon-gone"  # the daemon closed the connection before the answer was complete
    TAP_STOPPED = "tap-stopped"  # the tap itself was stopped


@dataclass
class Exchange:
    """One request and its answer, as the tap saw them."""

    started_ns: int
    method: str
    target: str
    status: int
    reason: str
    user_agent: str
    pid: int | None
    connection: int
    sequence: int
    first_byte_ms: float
    process: str = ""
    error_message: str = ""
    upgraded: bool = False
    streamed: bool = False
    request_bytes: int = 0
    response_bytes: int = 0
    duration_ms: float = 0.0
    container: str = ""
    exit_code: int | None = None
    announced: bool = False  # its request was recorded on its own, as an `api-request`
    command: str = ""  # a container's create: the command it is to run (secrets masked)
    peer: str = ""  # a TCP client's address (a unix socket's client is known by its pid instead)

    @property
    def span(self) -> str:
        """The stable id of this request's span: its connection, its place on that connection, and when its head
        arrived (connection numbers start again when the tap does)."""
        return f"{self.connection}.{self.sequence}.{self.started_ns}"


def split_target(target: str) -> tuple[str, str, dict[str, str]]:
    """`/v1.41/images/create?fromImage=x&tag=1` -> ("1.41", "/images/create", {"fromImage": "x", "tag": "1"}),
    with the value of every parameter not known to be harmless replaced by "…"."""
    parts = urlsplit(target)
    match = _VERSION.match(parts.path)
    version, path = (match["version"], match["path"]) if match else ("", parts.path)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = {name: (value if name in SAFE_QUERY else "…") for name, value in pairs}
    return version, path, query


def transfer(method: str, path: str, query: Mapping[str, str]) -> tuple[str, str] | None:
    """("pull", REFERENCE) for `POST /images/create?fromImage=…`, ("push", REFERENCE) for `POST /images/NAME/push`,
    None for anything else: the requests that start a registry transfer."""
    if method != "POST":
        return None
    tag = query.get("tag") or "latest"
    if path == "/images/create" and query.get("fromImage"):
        return "pull", f"{query['fromImage']}:{tag}"
    if path.startswith("/images/") and path.endswith("/push"):
        return "push", f"{unquote(path.removeprefix('/images/').removesuffix('/push'))}:{tag}"
    return None


def container_in(path: str) -> str:
    """The container a path names (`/containers/ID/start` -> ID), or ""."""
    match = _CONTAINER.match(path)
    return match["id"] if match else ""


def is_secret_path(path: str) -> bool:
    return path == "/auth" or path.startswith(("/secrets", "/configs"))


def created_command(body: bytes | bytearray | None) -> str:
    """The command a container's create asks for (its `Cmd`, as `docker run IMAGE CMD…` typed it), secrets
    masked; "" when the body is not one or names none (the image's own command then runs)."""
    if not body:
        return ""
    try:
        config = json.loads(body)
    except ValueError:
        return ""
    command = config.get("Cmd") if isinstance(config, dict) else None
    if isinstance(command, str):
        command = [command]
    if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
        return ""
    return mask_command(shlex.join(command))[:COMMAND_LIMIT]


def observation_from_exchange(exchange: Exchange, host: str) -> Observation:
    """The `api-call`: the request and the start of its answer (the whole answer unless it is streamed)."""
    version, path, query = split_target(exchange.target)
    attributes: dict[str, object] = {
        "method": exchange.method, "path": path, "version": version, "query": query,
        "status": exchange.status, "reason": exchange.reason, "user_agent": exchange.user_agent,
        "pid": exchange.pid, "process": exchange.process, "connection": exchange.connection,
        "first_byte_ms": round(exchange.first_byte_ms, 2), "upgraded": exchange.upgraded, "streamed": exchange.streamed,
    }
    if not exchange.streamed:
        attributes |= {"request_bytes": exchange.request_bytes, "response_bytes": exchange.response_bytes,
                       "duration_ms": round(exchange.duration_ms, 2)}
    if exchange.announced:
        attributes["announced"] = True
    if exchange.error_message and not is_secret_path(path):
        attributes["error"] = exchange.error_message[:ERROR_MESSAGE_LIMIT]
    if container := exchange.container or container_in(path):
        attributes["container"] = container
    if exchange.command:
        attributes["command"] = exchange.command
    return _observation(exchange, host, "api-call", _subject(exchange.method, path), attributes)


def observation_from_request(exchange: Exchange, host: str) -> Observation:
    """The `api-request`: a request, recorded as soon as its head arrives (its `api-call` follows with the
    answer). `exchange` carries the request's facts; its answer is not known yet."""
    version, path, query = split_target(exchange.target)
    attributes: dict[str, object] = {
        "method": exchange.method, "path": path, "version": version, "query": query,
        "user_agent": exchange.user_agent, "pid": exchange.pid, "process": exchange.process,
        "connection": exchange.connection,
    }
    if container := container_in(path):
        attributes["container"] = container
    return _observation(exchange, host, "api-request", _subject(exchange.method, path), attributes)


def observation_from_stream_end(exchange: Exchange, ending: Ending, host: str) -> Observation:
    """The `api-stream-end`: a streamed answer (or a raw upgraded stream) is over, and how."""
    _version, path, _query = split_target(exchange.target)
    attributes: dict[str, object] = {
        "method": exchange.method, "path": path, "status": exchange.status, "user_agent": exchange.user_agent,
        "pid": exchange.pid, "connection": exchange.connection, "upgraded": exchange.upgraded,
        "ending": str(ending), "request_bytes": exchange.request_bytes, "response_bytes": exchange.response_bytes,
        "duration_ms": round(exchange.duration_ms, 2),
    }
    if exchange.exit_code is not None:
        attributes["exit_code"] = exchange.exit_code
    if exchange.error_message and not is_secret_path(path):
        attributes["error"] = exchange.error_message[:ERROR_MESSAGE_LIMIT]
    if container := container_in(path):
        attributes["container"] = container
    return _observation(exchange, host, "api-stream-end", _subject(exchange.method, path), attributes)


def _subject(method: str, path: str) -> str:
    """`POST /containers/3526e3c0a6c8/start`: a container's full id is in the attributes, not in every list row."""
    if container := container_in(path):
        path = path.replace(f"/{container}/", f"/{container[:12]}/", 1)
    return f"{method} {path}"


def _observation(exchange: Exchange, host: str, kind: str, subject: str, attributes: dict[str, object]
                 ) -> Observation:
    attributes["span"] = exchange.span
    if exchange.peer:
        attributes["peer"] = exchange.peer
    key = f"tap\x1f{host}\x1f{kind}\x1f{exchange.connection}\x1f{exchange.sequence}\x1f{exchange.started_ns}"
    return Observation(
        time_ns=exchange.started_ns if kind == "api-call" else exchange.started_ns + int(exchange.duration_ms * 1e6),
        source=Source.TAP, host=host, kind=kind, subject=subject, attributes=attributes,
        correlation=f"{exchange.pid or ''}:{exchange.connection}",
        key=hashlib.sha256(key.encode()).hexdigest()[:40],
    )
