"""The map's boxes and edges, from what archviz holds: each daemon's inventory, what each registry holds, and the
clients the tap saw. Pure: `architecture()` is the whole state `/api/map/` answers and `/ws/map/` sends.

Box ids are the sequence diagram's participant ids (`client:…`, `daemon:HOST`, `runtime:HOST`, `registry:HOST`),
so that a Message's sender and receiver name the boxes it joins (archviz.architecture.traffic). Every box says
what it is in two or three plain sentences (`about`) and lists what it holds right now (`contents`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archviz.architecture.seen import Client
from archviz.architecture.traffic import CLIENT_DAEMON, DAEMON_REGISTRY, DAEMON_RUNTIME, edge_id
from archviz.sequence.model import DAEMON, REGISTRY, RUNTIME
from archviz.sequence.names import human_size, short_id
from archviz.sequence.sequencer import host_label, participant_for

# How many boxes of each kind the map draws (the rest are counted in `more`), and lines a box lists.
MAX_CLIENTS = 5
MAX_DAEMONS = 3
MAX_REGISTRIES = 4
MAX_CONTENTS = 40
Box = dict[str, Any]

ABOUT = {
    "client": "The client is the program you type into: the docker CLI, or any program that speaks the Docker "
              "API (an SDK, Compose). It does no work itself: it turns each command into HTTP requests to the "
              "daemon and prints the answers. archviz sees those requests through its API tap.",
    "daemon": "The daemon (dockerd) does the work: it keeps the images, creates containers, networks and volumes, "
              "and talks to registries to pull and push. Any client that can reach its API socket can ask it.",
    "runtime": "The runtime runs containers: dockerd hands each one to containerd, which starts it with runc as "
               "ordinary processes, fenced off by Linux namespaces and cgroups. A start, a kill and an exit cross "
               "the edge between the daemon and the runtime.",
    "images": "An image is a read-only template: a stack of layers and a config that says what to run. Each layer "
              "is stored once, however many images use it: images built FROM the same base share its layers.",
    "containers": "A container is an image brought to life: the image's layers plus a thin writable layer of its "
                  "own, and a process the runtime runs. A stopped container keeps its layer until it is removed "
                  "(docker rm, or run --rm).",
    "networks": "A network lets containers reach each other and the outside world. Docker always has `host` and "
                "`none`; a container joins one or more networks when it starts.",
    "volumes": "A volume is storage that outlives containers: the daemon keeps it apart from every container's "
               "writable layer and mounts it where you ask (docker run -v NAME:/path). Removing a container "
               "leaves its volumes.",
    "registry": "A registry stores images as repositories of tagged manifests and the layers (blobs) they list. "
                "The daemon, not the client, talks to it: it downloads manifests and layers for a pull and "
                "uploads them for a push. archviz learns what it holds from the notifications it sends.",
}


def architecture(inventories: Mapping[str, Mapping[str, Any]], registries: Mapping[str, Mapping[str, list[str]]],
                 clients: Sequence[Client], *, watchers: Mapping[str, Mapping[str, Any]] | None = None,
                 only: str | None = None) -> dict[str, Any]:
    """The map: `{"daemons", "clients", "registries", "edges", "more", "host"}`.

    `inventories` is {host: wire inventory}, `registries` {registry host: {repository: [tags]}}, `clients` most
    recent first, `watchers` {host: the watcher's latest link report}; with `only`, one daemon and its clients."""
    hosts = sorted(set(inventories) | {client.host for client in clients})
    if only is not None:
        hosts = [host for host in hosts if host == only]
        clients = [client for client in clients if client.host == only]
    named = {registry for client in clients for registry in client.registries} - set(registries)
    registry_hosts = sorted(registries, key=lambda host: (not registries[host], host)) + sorted(named)
    daemons = [daemon_box(host, inventories.get(host), (watchers or {}).get(host)) for host in hosts[:MAX_DAEMONS]]
    shown_clients = [client_box(client) for client in clients[:MAX_CLIENTS]]
    shown_registries = [registry_box(host, registries.get(host)) for host in registry_hosts[:MAX_REGISTRIES]]
    daemon_of = {daemon["host"]: daemon["id"] for daemon in daemons}
    edges = [_edge(client["id"], daemon_of[client["host"]], CLIENT_DAEMON)
             for client in shown_clients if client["host"] in daemon_of]
    for daemon in daemons:
        edges.append(_edge(daemon["id"], daemon["runtime"]["id"], DAEMON_RUNTIME))
        edges += [_edge(daemon["id"], registry["id"], DAEMON_REGISTRY) for registry in shown_registries]
    return {
        "daemons": daemons, "clients": shown_clients, "registries": shown_registries, "edges": edges,
        "more": {"daemons": max(len(hosts) - MAX_DAEMONS, 0), "clients": max(len(clients) - MAX_CLIENTS, 0),
                 "registries": max(len(registry_hosts) - MAX_REGISTRIES, 0)},
        "host": only,
    }


def _edge(start: str, end: str, kind: str) -> dict[str, str]:
    return {"id": edge_id(start, end), "kind": kind, "from": start, "to": end}


def _participant_id(role: str, host: str) -> str:
    """The id the sequence diagram gives this daemon's (or registry's) participant."""
    source = "registry" if role == REGISTRY else "daemon"
    return participant_for(role, {"host": host, "source": source, "subject": "", "attributes": {}}).id


def _box(box_id: str, role: str, title: str, label: str, facts: list[str], contents: list[str],
         **numbers: Any) -> Box:
    return {"id": box_id, "role": role, "title": title, "label": label, "facts": facts, "about": ABOUT[role],
            "contents": contents[:MAX_CONTENTS], "more": max(len(contents) - MAX_CONTENTS, 0), **numbers}


def _plural(count: int, word: str, words: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


# Daemons ---------------------------------------------------------------------------------------------


def daemon_box(host: str, inventory: Mapping[str, Any] | None, watcher: Mapping[str, Any] | None = None) -> Box:
    """A daemon with its runtime and the four kinds of things it keeps. Without an inventory (archviz does not
    watch it, or has not loaded it yet) the parts are empty and say so."""
    inventory = inventory or {}
    images, containers = list(inventory.get("images", [])), list(inventory.get("containers", []))
    networks, volumes = list(inventory.get("networks", [])), list(inventory.get("volumes", []))
    parts = [images_part(host, images), containers_part(host, containers), networks_part(host, networks),
             volumes_part(host, volumes)]
    unreachable = watcher is not None and watcher.get("kind") == "watcher-unreachable"
    facts = [host]
    if unreachable:
        facts.append(f"unreachable: {(watcher or {}).get('attributes', {}).get('message', '')}")
    elif not inventory:
        facts.append("not watched: its inventory is unknown")
    box = _box(_participant_id(DAEMON, host), "daemon", "Daemon (dockerd)", host_label(host), facts,
               [f"address: {host}", *(f"{part['title'].lower()}: {', '.join(part['facts'])}" for part in parts)],
               host=host, reachable=not unreachable, watched=bool(inventory))
    box["parts"] = parts
    box["runtime"] = runtime_box(host, containers)
    return box


def runtime_box(host: str, containers: list[Mapping[str, Any]]) -> Box:
    running = [c for c in containers if c.get("state") == "running"]
    return _box(_participant_id(RUNTIME, host), "runtime", "Runtime", "containerd + runc",
                [f"{_plural(len(running), 'task')} running"],
                [f"task {c.get('name', '')} ({c.get('image', '')})" for c in sorted(running, key=_name)],
                running=len(running))


def image_name(image: Mapping[str, Any]) -> str:
    """An image as people name it: its first tag, else its repository by digest, else its short id."""
    if image.get("tags"):
        return str(image["tags"][0])
    if image.get("digests"):
        return str(image["digests"][0]).split("@", 1)[0] + "@…"
    return short_id(str(image.get("id", "")))


def images_part(host: str, images: list[Mapping[str, Any]]) -> Box:
    """Count, bytes on disk (each shared layer once) and the layers images share."""
    users: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for image in images:
        for layer in image.get("layers") or []:
            users[layer["id"]] = users.get(layer["id"], 0) + 1
            sizes[layer["id"]] = layer.get("size") or 0
    shared = [layer for layer, count in users.items() if count > 1]
    saved = sum(sizes[layer] * (users[layer] - 1) for layer in shared)
    on_disk = sum(image.get("size") or 0 for image in images) - saved
    facts = [_plural(len(images), "image"), f"{human_size(on_disk)} on disk",
             f"{_plural(len(shared), 'layer')} shared" + (f", saving {human_size(saved)}" if saved else "")]
    if any(image.get("layers") is None for image in images):
        facts.append("reading layers…")
    contents = [f"{image_name(image)} · {human_size(image.get('size') or 0)} · "
                f"{_plural(len(image.get('layers') or []), 'layer')}" for image in sorted(images, key=image_name)]
    return _box(f"images:{host}", "images", "Images", "", facts, contents, count=len(images), bytes=on_disk,
                layers=len(users), shared_layers=len(shared), saved=saved)


def _name(item: Mapping[str, Any]) -> str:
    return str(item.get("name", ""))


def containers_part(host: str, containers: list[Mapping[str, Any]]) -> Box:
    running = [c for c in containers if c.get("state") == "running"]
    ordered = sorted(containers, key=lambda c: (c.get("state") != "running", _name(c)))
    contents = [f"{_name(c)} · {c.get('image', '')} · {c.get('state', '')}"
                + (f" ({c['exit_code']})" if c.get("exit_code") is not None else "") for c in ordered]
    return _box(f"containers:{host}", "containers", "Containers", "",
                [_plural(len(containers), "container"), f"{len(running)} running · "
                 f"{len(containers) - len(running)} stopped"], contents,
                count=len(containers), running=len(running), stopped=len(containers) - len(running))


def networks_part(host: str, networks: list[Mapping[str, Any]]) -> Box:
    contents = [f"{_name(n)} ({n.get('driver', '')})" + (f" · {_plural(len(n['containers']), 'container')}"
                                                        if n.get("containers") else "")
                for n in sorted(networks, key=_name)]
    return _box(f"networks:{host}", "networks", "Networks", "", [_plural(len(networks), "network")], contents,
                count=len(networks))


def volumes_part(host: str, volumes: list[Mapping[str, Any]]) -> Box:
    contents = [f"{_name(v)} ({v.get('driver', '')})" + (f" · used by {_plural(len(v['containers']), 'container')}"
                                                        if v.get("containers") else " · unused")
                for v in sorted(volumes, key=_name)]
    return _box(f"volumes:{host}", "volumes", "Volumes", "", [_plural(len(volumes), "volume")], contents,
                count=len(volumes))


# Clients and registries ----------------------------------------------------------------------------------


def client_box(client: Client) -> Box:
    facts = [f"{_plural(client.requests, 'request')} seen"] + ([client.process] if client.process else [])
    return _box(client.id, "client", "Client", client.label, facts, [f"asked: {label}" for label in client.recent],
                host=client.host, requests=client.requests, last_ns=str(client.last_ns))


def registry_box(host: str, repositories: Mapping[str, list[str]] | None) -> Box:
    """A registry that sent notifications lists its repositories and tags; one only named by a request says so."""
    heard = repositories is not None
    repositories = repositories or {}
    tags = sum(len(names) for names in repositories.values())
    facts = ([_plural(len(repositories), "repository", "repositories"), _plural(tags, "tag")] if heard
             else ["named by a request; no notifications heard"])
    contents = [f"{name}: {', '.join(names) if names else 'no tags'}" for name, names in repositories.items()]
    return _box(_participant_id(REGISTRY, host), "registry", "Registry", host, facts, contents,
                repositories=len(repositories), tags=tags, heard=heard)
