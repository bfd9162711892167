"""What a browser receives when it (re)connects: the newest published observations and their diagram, each
watcher's link state, each host's inventory."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archviz.inventory import KINDS
from archviz.models import InventoryItem, InventoryState, Publication, StoredObservation
from archviz.observation import Source

EMPTY_SEQUENCE: dict[str, list[Any]] = {"participants": [], "messages": [], "interactions": []}


def live_snapshot(count: int) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """The newest `count` published observations (oldest first), the number of the newest publication (0 when
    there is none), and the diagram those publications drew for them: exactly what a browser that watched them
    being published holds."""
    newest = Publication.objects.order_by("-seq").values_list("seq", "last_observation").first()
    if newest is None:
        return [], 0, EMPTY_SEQUENCE
    seq, through = newest
    rows = list(StoredObservation.objects.filter(id__lte=through).order_by("-id")[:count])
    rows.reverse()
    if not rows:
        return [], seq, EMPTY_SEQUENCE
    first = rows[0].pk
    deltas = (Publication.objects.filter(seq__lte=seq, last_observation__gte=first).order_by("seq")
              .values_list("sequence", flat=True))
    return [row.to_wire() for row in rows], seq, merged(deltas.iterator(), first)


def merged(deltas: Iterable[dict[str, Any]], first_observation: int) -> dict[str, Any]:
    """The diagram a browser holds after applying these publications' `sequence` parts in order (as
    static/archviz/diagram.js does: a Message sent again with the same id keeps its place and takes the new
    label), keeping only the Messages of observations from `first_observation` on. Pure."""
    participants: dict[str, dict[str, Any]] = {}
    messages: dict[str, dict[str, Any]] = {}
    interactions: dict[str, dict[str, Any]] = {}
    for delta in deltas:
        for participant in delta["participants"]:
            participants.setdefault(participant["id"], participant)
        for interaction in delta["interactions"]:
            interactions[interaction["id"]] = interaction
        for message in delta["messages"]:
            if message["observation"] < first_observation:
                continue
            known = messages.get(message["id"])
            if known is None:
                messages[message["id"]] = dict(message)
            else:
                known["label"] = message["label"]
    drawn = [*messages.values()]
    taking_part = {m["sender"] for m in drawn} | {m["receiver"] for m in drawn}
    boxes = {m["interaction"] for m in drawn}
    return {
        "participants": [p for p in participants.values() if p["id"] in taking_part],
        "messages": drawn,
        "interactions": [i for i in interactions.values() if i["id"] in boxes],
    }


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
