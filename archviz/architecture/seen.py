"""What the store's rows say was seen, for the map. Pure.

- `clients_seen`: the clients (one per user agent, as the sequence diagram names them) whose requests the API tap
  recorded, or the dashboard itself for its pulls, with the daemon each talked to and what it asked last.
- `registry_contents`: what each registry holds, as its notifications tell it: repositories and their tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archviz.sequence.labels import arrows_for
from archviz.sequence.model import CLIENT, DAEMON
from archviz.sequence.names import registry_host
from archviz.sequence.rules import PULLED, PUSHED, endpoint_for, query_of, request_subject
from archviz.sequence.sequencer import participant_for

# How many of a client's newest requests its box lists.
RECENT = 8


@dataclass
class Client:
    """A client as its box shows it: `id` and `label` are its participant's in the sequence diagram."""

    id: str
    label: str
    host: str  # the daemon it talked to last, as the daemon's observations name it
    requests: int = 0
    last_ns: int = 0
    process: str = ""
    recent: list[str] = field(default_factory=list)
    registries: set[str] = field(default_factory=set)  # the registries its pulls and pushes named


def clients_seen(requests: Iterable[Mapping[str, Any]]) -> list[Client]:
    """Clients from `api-request` and `action-pull` observations (wire shape, any order), most recent first."""
    clients: dict[str, Client] = {}
    for o in sorted(requests, key=lambda o: o["id"]):
        participant = participant_for(CLIENT, dict(o))
        client = clients.get(participant.id)
        if client is None:
            client = clients[participant.id] = Client(participant.id, participant.label.removeprefix("Client "),
                                                      str(o["host"]))
        attributes = o["attributes"]
        client.host = str(o["host"])
        client.requests += 1
        client.last_ns = max(client.last_ns, int(o["time_ns"]))
        if attributes.get("pid"):
            client.process = f"{attributes.get('process') or 'a program'} (process {attributes['pid']})"
        asked = [a.label for a in arrows_for(dict(o)) if (a.sender, a.receiver) == (CLIENT, DAEMON)]
        client.recent = (asked + client.recent)[:RECENT]
        if registry := _registry_named(o):
            client.registries.add(registry)
    return sorted(clients.values(), key=lambda c: c.last_ns, reverse=True)


def _registry_named(o: Mapping[str, Any]) -> str:
    """The registry a pull or push request names ("" for any other request)."""
    if o["source"] == "action":
        return registry_host(str(o["subject"]))
    attributes = o["attributes"]
    method, path = str(attributes.get("method", "")), str(attributes.get("path", ""))
    endpoint = endpoint_for(method, path)
    if endpoint.subject not in (PULLED, PUSHED):
        return ""
    reference = request_subject(endpoint, path, query_of(attributes))
    return registry_host(reference) if reference else ""


def registry_contents(events: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """{registry host: {repository: [tags]}} from notification events (`host`, `action`, `repository`, `tag`,
    `digest`, `target_kind`), oldest first. A push or pull of a tagged manifest shows the tag is there; a tag delete
    takes it away, a manifest delete every tag that pointed at it, a repository delete (no tag, no digest:
    distribution 3) the repository."""
    held: dict[str, dict[str, dict[str, str]]] = {}
    for event in events:
        repositories = held.setdefault(str(event["host"]), {})
        repository, tag, digest = str(event["repository"]), str(event["tag"] or ""), str(event["digest"] or "")
        if event["action"] != "delete":
            tags = repositories.setdefault(repository, {})
            if tag and event["target_kind"] == "manifest":
                tags[tag] = digest
        elif tag:
            repositories.get(repository, {}).pop(tag, None)
        elif digest:
            tags = repositories.get(repository, {})
            for gone in [t for t, pointed in tags.items() if pointed == digest]:
                del tags[gone]
        else:
            repositories.pop(repository, None)
    return {host: {name: sorted(tags) for name, tags in sorted(repositories.items())}
            for host, repositories in held.items()}
