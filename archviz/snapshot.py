"""What a browser receives when it (re)connects: the newest observations and each watcher's link state."""

from __future__ import annotations

from typing import Any

from archviz.inventory import KINDS
from archviz.models import InventoryItem, InventoryState, StoredObservation
from archviz.observation import Source


def newest_observations(count: int) -> tuple[list[dict[str, Any]], int]:
    """The newest `count` observations, oldest first, and the store's newest id (0 when empty)."""
    rows = list(StoredObservation.objects.order_by("-id")[:count])
    rows.reverse()
    seq = rows[-1].pk if rows else 0
    return [row.to_wire() for row in rows], seq


def watcher_states() -> list[dict[str, Any]]:
    """The latest link report (connected or unreachable) of every daemon a watcher has reported on."""
    watched = StoredObservation.objects.filter(source=Source.WATCHER.value)
    hosts = watched.values_list("host", flat=True).distinct()
    latest = (watched.filter(host=host).order_by("-id").first() for host in hosts)
    return [row.to_wire() for row in latest if row is not None]


def inventory_snapshot() -> dict[str, dict[str, Any]]:
    """Every host's stored inventory with its revision: {host: {"revision", "images", "containers", …}}."""
    hosts: dict[str, dict[str, Any]] = {
        state.host: {"revision": state.revision, **{f"{kind}s": [] for kind in KINDS}}
        for state in InventoryState.objects.all()
    }
    for item in InventoryItem.objects.order_by("host", "kind", "object_id"):
        if item.host in hosts:
            hosts[item.host][f"{item.kind}s"].append(item.data)
    return hosts
