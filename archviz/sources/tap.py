"""The tap source: one HTTP exchange between a Docker client and the daemon -> one Observation. Pure.

What is kept is what the diagram needs and nothing secret: the method, the path without its API version, the
version, the query with values only for parameters known to hold no secret, the status, timings, byte counts,
the client's user agent and process. Request and response bodies are never kept (a `containers/create` body
holds environment values, `/auth` holds a password), nor any header but the user agent: `X-Registry-Auth` and
`X-Registry-Config` carry credentials.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from archviz.observation import Observation, Source

_VERSION = re.compile(r"^/v(?P<version>\d+\.\d+)(?P<path>/.*)$")
# Query parameters whose values say what was asked and can hold no secret.
SAFE_QUERY = frozenset({
    "fromImage", "fromSrc", "tag", "repo", "name", "all", "force", "v", "link", "stream", "stdin", "stdout",
    "stderr", "logs", "follow", "timestamps", "tail", "since", "until", "condition", "signal", "t", "detachKeys",
    "noprune", "size", "filters", "h", "w", "platform", "q", "dockerfile", "rm", "forcerm", "pull", "nocache",
})
ERROR_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as the tap saw them."""

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
    error_message: str = ""
    upgraded: bool = False


def split_target(target: str) -> tuple[str, str, dict[str, str]]:
    """`/v1.41/images/create?fromImage=x&tag=1` -> ("1.41", "/images/create", {"fromImage": "x", "tag": "1"}),
    with the value of every parameter not known to be harmless replaced by "…"."""
    parts = urlsplit(target)
    match = _VERSION.match(parts.path)
    version, path = (match["version"], match["path"]) if match else ("", parts.path)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = {name: (value if name in SAFE_QUERY else "…") for name, value in pairs}
    return version, path, query


def observation_from_exchange(exchange: Exchange, host: str) -> Observation:
    version, path, query = split_target(exchange.target)
    secret_path = path == "/auth" or path.startswith(("/secrets", "/configs"))
    attributes: dict[str, object] = {
        "method": exchange.method, "path": path, "version": version, "query": query,
        "status": exchange.status, "reason": exchange.reason, "user_agent": exchange.user_agent,
        "pid": exchange.pid, "connection": exchange.connection, "first_byte_ms": round(exchange.first_byte_ms, 2),
        "upgraded": exchange.upgraded,
    }
    if exchange.error_message and not secret_path:
        attributes["error"] = exchange.error_message[:ERROR_MESSAGE_LIMIT]
    key = f"tap\x1f{host}\x1f{exchange.connection}\x1f{exchange.sequence}\x1f{exchange.started_ns}"
    return Observation(
        time_ns=exchange.started_ns, source=Source.TAP, host=host, kind="api-call",
        subject=f"{exchange.method} {path}", attributes=attributes,
        correlation=f"{exchange.pid or ''}:{exchange.connection}",
        key=hashlib.sha256(key.encode()).hexdigest()[:40],
    )
