"""Reads what the map needs from the store (each daemon's inventory, the registry audit trail, the tap's newest
requests, the watchers' link reports) and hands it to the pure `architecture()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archviz.architecture.seen import clients_seen, registry_contents
from archviz.architecture.state import architecture
from archviz.models import AuditEvent, StoredObservation
from archviz.query import QueryError
from archviz.snapshot import inventory_snapshot, watcher_states

# The clients of the newest this many requests are drawn (older ones have left the room), and the tags of the
# newest this many manifest notifications (a registry's contents as its recent traffic shows them).
CLIENT_WINDOW = 2000
REGISTRY_WINDOW = 10_000
MAX_HOST = 255


def host_from_query(query: Mapping[str, str]) -> str | None:
    """`?host=unix:///var/run/docker.sock`: draw that daemon only. None when not asked; QueryError for junk."""
    value = query.get("host", "").strip()
    if not value:
        return None
    if len(value) > MAX_HOST or not value.isprintable():
        raise QueryError(f"host must be a daemon's address as archviz names it (at most {MAX_HOST} printable "
                         "characters), such as host=unix:///var/run/docker.sock")
    return value


def map_state(only: str | None = None) -> dict[str, Any]:
    requests = StoredObservation.objects.filter(kind__in=("api-request", "action-pull")).order_by("-id")
    events = (AuditEvent.objects.exclude(target_kind="blob").order_by("-time_ns", "-id")
              .values("request_host", "source_addr", "action", "repository", "tag", "digest", "target_kind"))
    # A registry is named as its notifications' observations name it (archviz.sources.registry).
    oldest_first = [{**event, "host": event["request_host"] or event["source_addr"]}
                    for event in reversed(events[:REGISTRY_WINDOW])]
    return architecture(
        inventory_snapshot(), registry_contents(oldest_first),
        clients_seen(row.to_wire() for row in requests[:CLIENT_WINDOW]),
        watchers={watcher["host"]: watcher for watcher in watcher_states()}, only=only,
    )
