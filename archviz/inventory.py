"""What a Docker host holds right now: images (with their layers), containers, networks and volumes.

The pure part turns Engine API payloads into plain items and compares inventories; `InventoryKeeper` does
the I/O: a full load when the watcher connects, then, for each daemon event, a fresh look at just the
objects that event touched (no polling). Every change is stored and then broadcast (archviz.publish).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import docker
from docker.errors import NotFound

from archviz.lab.hub import DESCRIPTION, STAND_IN_MARK
from archviz.secrets import mask_command

KINDS = ("image", "container", "network", "volume")
_EXITED = re.compile(r"^Exited \((?P<code>-?\d+)\)")
_STAND_IN = re.compile(rf"{re.escape(STAND_IN_MARK)} for Docker Hub's (?P<name>[a-z0-9._/-]+?),")
Item = dict[str, Any]


# Items ----------------------------------------------------------------------------------------------


def image_layers(history: list[dict[str, Any]], diff_ids: list[str]) -> list[Item]:
    """The image's layers, oldest first, each with its diff id, size and the instruction that made it.

    History lists every build step, newest first; steps that only set metadata (`#(nop)` with no size)
    made no layer. When the count of the rest matches RootFS.Layers, they are the layers in order."""
    steps = [step for step in reversed(history)
             if not ("#(nop)" in (step.get("CreatedBy") or "") and not step.get("Size"))]
    if len(steps) == len(diff_ids):
        # A classic build's step records the build arguments it used (`|1 API_TOKEN=… /bin/sh -c …`): masked.
        return [{"id": layer, "size": step.get("Size"),
                 "created_by": mask_command(step.get("CreatedBy") or step.get("Comment", ""))}
                for layer, step in zip(diff_ids, steps, strict=True)]
    return [{"id": layer, "size": None, "created_by": ""} for layer in diff_ids]


def image_item(summary: dict[str, Any], history: list[dict[str, Any]], inspect: dict[str, Any]) -> Item:
    tags, digests = sorted(summary.get("RepoTags") or []), sorted(summary.get("RepoDigests") or [])
    labels = summary.get("Labels") or (inspect.get("Config") or {}).get("Labels") or {}
    return {
        "id": summary["Id"],
        "tags": tags,
        "digests": digests,
        "size": summary.get("Size"),
        "created": summary.get("Created"),
        "layers": image_layers(history, (inspect.get("RootFS") or {}).get("Layers") or []),
        "stand_in": stand_in(labels, [*tags, *digests]),
    }


def stand_in(labels: dict[str, str], references: list[str]) -> Item | None:
    """What to say of an image whose description label says it is one of the lab's stand-ins for a Docker Hub
    image (archviz.lab.hub), or None. A build inherits its base's labels, so an image that carries the label but
    is not named as the stand-in (`lesson-app` built FROM alpine:3.18) is said to be built on one."""
    found = _STAND_IN.match(labels.get(DESCRIPTION, ""))
    if found is None:
        return None
    name = found["name"]
    if name in {repository_of(reference) for reference in references}:
        return {"stands_for": name, "badge": "lab stand-in",
                "sentence": f"A lab stand-in for Docker Hub's {name}, not the real image: archviz built it offline "
                            "from Debian's busybox-static, so the lessons' commands work with no internet."}
    return {"stands_for": name, "badge": "built on a lab stand-in",
            "sentence": f"Built on the lab's stand-in for Docker Hub's {name}, not on the real {name} image: "
                        "it holds busybox, as its base does."}


def repository_of(reference: str) -> str:
    """`nginx:latest`, `docker.io/library/nginx@sha256:…` -> `nginx`; other repositories keep their full name."""
    name = reference.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name.removeprefix("docker.io/").removeprefix("library/")


def container_item(payload: dict[str, Any]) -> Item:
    """From a `/containers/json` entry or a `/containers/{id}/json` inspect: the same item either way.
    `started` is kept for running containers only (a listing does not say it; `load` inspects those)."""
    if "State" in payload and isinstance(payload["State"], dict):  # an inspect
        state = payload["State"]
        mounts = payload.get("Mounts") or []
        networks = (payload.get("NetworkSettings") or {}).get("Networks") or {}
        return {
            "id": payload["Id"], "name": payload.get("Name", "").lstrip("/"),
            "image": (payload.get("Config") or {}).get("Image", ""), "image_id": payload.get("Image", ""),
            "state": state.get("Status", ""),
            "exit_code": state.get("ExitCode") if state.get("Status") in ("exited", "dead") else None,
            "created": iso_seconds(payload.get("Created")),
            "started": state.get("StartedAt") if state.get("Status") == "running" else None,
            "networks": sorted(networks), "volumes": sorted(m["Name"] for m in mounts if m.get("Type") == "volume"),
        }
    exited = _EXITED.match(payload.get("Status") or "")
    names = payload.get("Names") or [""]
    mounts = payload.get("Mounts") or []
    networks = (payload.get("NetworkSettings") or {}).get("Networks") or {}
    return {
        "id": payload["Id"], "name": names[0].lstrip("/"), "image": payload.get("Image", ""),
        "image_id": payload.get("ImageID", ""), "state": payload.get("State", ""),
        "exit_code": int(exited["code"]) if exited else None,
        "created": payload.get("Created"), "started": None,
        "networks": sorted(networks), "volumes": sorted(m["Name"] for m in mounts if m.get("Type") == "volume"),
    }


def network_item(payload: dict[str, Any]) -> Item:
    return {"id": payload["Id"], "name": payload.get("Name", ""), "driver": payload.get("Driver", ""),
            "scope": payload.get("Scope", ""), "internal": bool(payload.get("Internal"))}


def volume_item(payload: dict[str, Any]) -> Item:
    return {"id": payload["Name"], "name": payload["Name"], "driver": payload.get("Driver", ""),
            "mountpoint": payload.get("Mountpoint", "")}


def iso_seconds(value: str | None) -> int | None:
    """`2026-11-22T12:25:57.123456789Z` -> Unix seconds (the API gives lists in seconds, inspects in ISO)."""
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(value[:19] + "+00:00").timestamp())
    except ValueError:
        return None


# Inventories ----------------------------------------------------------------------------------------


@dataclass
class Inventory:
    images: dict[str, Item] = field(default_factory=dict)
    containers: dict[str, Item] = field(default_factory=dict)
    networks: dict[str, Item] = field(default_factory=dict)
    volumes: dict[str, Item] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, Item]:
        return getattr(self, f"{kind}s")

    def copy(self) -> Inventory:
        """A copy whose tables can change without changing this one (the items are shared)."""
        return Inventory(**{f"{kind}s": dict(self.table(kind)) for kind in KINDS})

    def with_relations(self) -> Inventory:
        """The same inventory, with each image, network and volume saying which containers use it, and
        each container whether it started (a container listing does not say)."""
        used: dict[str, dict[str, list[str]]] = {kind: {} for kind in ("image", "network", "volume")}
        for container in self.containers.values():
            used["image"].setdefault(container["image_id"], []).append(container["id"])
            for name in container["networks"]:
                used["network"].setdefault(name, []).append(container["id"])
            for name in container["volumes"]:
                used["volume"].setdefault(name, []).append(container["id"])
        return Inventory(
            images={i: {**item, "containers": sorted(used["image"].get(i, []))} for i, item in self.images.items()},
            containers=dict(self.containers),
            networks={i: {**item, "containers": sorted(used["network"].get(item["name"], []))}
                      for i, item in self.networks.items()},
            volumes={i: {**item, "containers": sorted(used["volume"].get(item["name"], []))}
                     for i, item in self.volumes.items()},
        )

    def to_wire(self) -> dict[str, list[Item]]:
        related = self.with_relations()
        return {f"{kind}s": sorted(related.table(kind).values(), key=lambda item: item["id"]) for kind in KINDS}


@dataclass(frozen=True)
class Change:
    """`op` is upsert or remove; `item` is None for a remove."""

    op: str
    kind: str
    id: str
    item: Item | None

    def to_wire(self) -> dict[str, Any]:
        return {"op": self.op, "kind": self.kind, "id": self.id, "item": self.item}


def changes(before: Inventory, after: Inventory, touched: set[tuple[str, str]] | None = None) -> list[Change]:
    """What turns `before` into `after`, relations included (a container that appears changes the image it
    uses), so that a browser that applies them holds what a fresh snapshot would give.

    With `touched` (the (kind, id) pairs that may differ), only those and the objects their containers use
    are compared: one event costs a look at a few items, not at the whole host."""
    if touched is None:
        old, new = before.with_relations(), after.with_relations()
        keys = {(kind, key) for kind in KINDS for key in old.table(kind).keys() | new.table(kind).keys()}
    else:
        old, new, keys = before, after, set(touched)
        for kind, key in touched:
            if kind == "container":
                was, now = _used_by(before, before.containers.get(key)), _used_by(after, after.containers.get(key))
                # A start, stop or exit changes no relation; a container that comes, goes or moves does.
                if was != now or (key in before.containers) != (key in after.containers):
                    keys |= was | now
    found = []
    for kind, key in sorted(keys, key=lambda pair: (KINDS.index(pair[0]), pair[1])):
        was, now = _related(old, kind, key, touched is None), _related(new, kind, key, touched is None)
        if now is None and was is not None:
            found.append(Change("remove", kind, key, None))
        elif now is not None and now != was:
            found.append(Change("upsert", kind, key, now))
    return found


def _used_by(inventory: Inventory, container: Item | None) -> set[tuple[str, str]]:
    """The (kind, id) of the image, networks and volumes a container uses."""
    if container is None:
        return set()
    by_name = {network["name"]: key for key, network in inventory.networks.items()}
    return ({("image", container["image_id"])}
            | {("network", by_name[name]) for name in container["networks"] if name in by_name}
            | {("volume", name) for name in container["volumes"]})


def _related(inventory: Inventory, kind: str, key: str, ready: bool) -> Item | None:
    """One item with its relations (`ready`: the inventory already carries them)."""
    item = inventory.table(kind).get(key)
    if item is None or ready or kind == "container":
        return item
    field_name = {"image": "image_id", "network": "networks", "volume": "volumes"}[kind]
    match = key if kind == "image" else item["name"]
    users = sorted(c["id"] for c in inventory.containers.values()
                   if (c[field_name] == match if kind == "image" else match in c[field_name]))
    return {**item, "containers": users}


def apply(inventory: dict[str, list[Item]], change_list: Iterable[dict[str, Any]]) -> dict[str, list[Item]]:
    """Apply wire changes to a wire inventory (what a browser does; kept here to test the property)."""
    tables = {kind: {item["id"]: item for item in inventory[f"{kind}s"]} for kind in KINDS}
    for change in change_list:
        if change["op"] == "remove":
            tables[change["kind"]].pop(change["id"], None)
        else:
            tables[change["kind"]][change["id"]] = change["item"]
    return {f"{kind}s": sorted(tables[kind].values(), key=lambda item: item["id"]) for kind in KINDS}


# Reading a daemon -------------------------------------------------------------------------------------


def load(client: docker.DockerClient, workers: int = 16, known: Inventory | None = None,
         with_layers: bool = True) -> Inventory:
    """Everything the daemon holds. Layers need two calls per image; those run several at a time, and an
    image already in `known` is not asked again (an image id names immutable content: its layers never
    change). Without `with_layers`, images not known yet get `layers: None`, for `layers_of` to fill in."""
    api = client.api
    summaries = api.images()
    layers_known = {key: item["layers"] for key, item in (known.images if known else {}).items()
                    if item["layers"] is not None}

    def one_image(summary: dict[str, Any]) -> Item | None:
        if summary["Id"] in layers_known or not with_layers:
            return {**image_item(summary, [], {}), "layers": layers_known.get(summary["Id"])}
        try:
            return image_item(summary, api.history(summary["Id"]), api.inspect_image(summary["Id"]))
        except NotFound:  # removed while we looked
            return None

    def one_container(summary: dict[str, Any]) -> Item:
        if summary.get("State") != "running":
            return container_item(summary)
        try:
            return container_item(api.inspect_container(summary["Id"]))
        except NotFound:
            return container_item(summary)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        images = [item for item in pool.map(one_image, summaries) if item is not None]
        containers = list(pool.map(one_container, api.containers(all=True)))
    return Inventory(
        images={item["id"]: item for item in images},
        containers={item["id"]: item for item in containers},
        networks={n["Id"]: network_item(n) for n in api.networks()},
        volumes={v["Name"]: volume_item(v) for v in (api.volumes().get("Volumes") or [])},
    )


def layers_of(client: docker.DockerClient, image_ids: list[str], workers: int = 16) -> dict[str, list[Item]]:
    """The layers of these images (those removed meanwhile are left out)."""
    api = client.api

    def one(key: str) -> tuple[str, list[Item] | None]:
        try:
            return key, image_layers(api.history(key), (api.inspect_image(key).get("RootFS") or {}).get("Layers") or [])
        except NotFound:
            return key, None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {key: layers for key, layers in pool.map(one, image_ids) if layers is not None}


def refreshed(client: docker.DockerClient, inventory: Inventory, observation: dict[str, Any]
              ) -> tuple[Inventory, set[tuple[str, str]]]:
    """The inventory after one daemon event, and the (kind, id) pairs it may have changed: only the objects
    the event names are looked at again."""
    object_type = observation["kind"].partition("-")[0]
    attributes = observation["attributes"]
    api = client.api
    updated = inventory.copy()
    touched: set[tuple[str, str]] = set()
    if object_type == "container":
        touched.add(("container", attributes.get("id", "")))
        _refresh(updated.containers, attributes.get("id", ""), lambda key: container_item(api.inspect_container(key)))
    elif object_type == "image":
        reference = attributes.get("id", "")
        try:
            inspect = api.inspect_image(reference)
        except NotFound:
            inspect = None
        if inspect is None:  # deleted: drop whichever image had that id or reference
            for key, item in list(updated.images.items()):
                if key == reference or reference in item["tags"]:
                    del updated.images[key]
                    touched.add(("image", key))
        else:
            summary = {"Id": inspect["Id"], "RepoTags": inspect.get("RepoTags"),
                       "RepoDigests": inspect.get("RepoDigests"), "Size": inspect.get("Size"),
                       "Created": iso_seconds(inspect.get("Created")),
                       "Labels": (inspect.get("Config") or {}).get("Labels")}
            updated.images[inspect["Id"]] = image_item(summary, api.history(inspect["Id"]), inspect)
            touched.add(("image", inspect["Id"]))
            # A tag moves from one image to another: the old one loses it.
            for key, item in list(updated.images.items()):
                if key != inspect["Id"] and set(item["tags"]) & set(inspect.get("RepoTags") or []):
                    updated.images[key] = {**item, "tags": sorted(set(item["tags"]) - set(inspect["RepoTags"]))}
                    touched.add(("image", key))
    elif object_type == "network":
        touched.add(("network", attributes.get("id", "")))
        _refresh(updated.networks, attributes.get("id", ""), lambda key: network_item(api.inspect_network(key)))
        if attributes.get("container"):
            touched.add(("container", attributes["container"]))
            _refresh(updated.containers, attributes["container"],
                     lambda key: container_item(api.inspect_container(key)))
    elif object_type == "volume":
        touched.add(("volume", attributes.get("id", "")))
        _refresh(updated.volumes, attributes.get("id", ""), lambda key: volume_item(api.inspect_volume(key)))
    return updated, touched


def _refresh(table: dict[str, Item], key: str, look: Any) -> None:
    if not key:
        return
    try:
        table[key] = look(key)
    except NotFound:
        table.pop(key, None)
