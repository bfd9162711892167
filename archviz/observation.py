"""The Observation: one normalized record of one thing seen, whatever its source.

Source modules turn their raw input into Observations and know nothing else; the store, the
websocket frames and the browser all speak this one shape (see `to_wire`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    """Who reported an observation. Wire names are the values."""

    DAEMON = "daemon"  # the Docker daemon's own /events stream
    WATCHER = "watcher"  # archviz's watcher, about its link to a daemon (connected, unreachable)
    REGISTRY = "registry"  # the registry's notifications
    HARBOR = "harbor"  # Harbor's webhook: audit events, which the diagram does not draw (they name no client)
    TAP = "tap"  # the API tap in front of the daemon's socket
    ACTION = "action"  # something a dashboard user did


@dataclass(frozen=True, slots=True)
class Observation:
    time_ns: int
    source: Source
    host: str
    kind: str
    subject: str
    attributes: dict[str, Any] = field(default_factory=dict)
    correlation: str = ""
    # Stable identity of the thing observed, so that a source that sees it twice stores it once.
    key: str = ""
