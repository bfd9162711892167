"""The one table of what a client's request can cause, like Django's URLconf: each row names an endpoint of the
Docker Engine API, says in Docker's words what the request asks, lists the daemon events and registry
notifications it can cause, and says which part of the request names their subject.

A daemon event or a registry notification belongs to the request (span) whose row lists its kind, whose subject
matches, and which was open when it happened (archviz.sequence.spans decides among several). A new endpoint is a
row here, and a row has a test from a recorded scenario (tests/data/scenarios/).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from archviz.sequence.names import familiar, normalize_reference

# How a row's subject is read off the request, and compared with an effect's:
CONTAINER = "container"  # the container the path names (id, id prefix or name)
EXEC = "exec"  # the exec instance the path names (the daemon's events carry it as `execID`)
NAME = "name"  # the container name a create asks for (`?name=`), when it asks for one
COMMITTED = "committed"  # the container a commit names (`?container=`)
PULLED = "pulled"  # the image a pull asks for (`?fromImage=&tag=`)
PUSHED = "pushed"  # the image a push names (`/images/NAME/push?tag=`)
TAGGED = "tagged"  # the reference a tag makes (`?repo=&tag=`)
ANY = ""  # any subject: the request's own effects cannot be told apart by name (a build's RUN steps)

_CONTAINER_LIFE = frozenset({"container-die", "network-disconnect", "volume-unmount"})
_BUILD = frozenset({
    "image-pull", "registry-pull", "image-tag", "image-untag", "image-delete", "container-create",
    "container-attach", "container-start", "container-die", "container-destroy", "container-commit",
    "container-copy", "container-extract-to-dir", "network-connect", "network-disconnect", "volume-create",
    "volume-mount", "volume-unmount", "volume-destroy",
})


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    pattern: re.Pattern[str]
    # What the request asks, in Docker's words; `{…}` are the path's named parts and the query's parameters.
    asks: str
    causes: frozenset[str] = frozenset()
    subject: str = ANY
    literal: bool = False  # an endpoint the table does not know: `asks` is its method and path, as they came

    def says(self, path: str, query: Mapping[str, str]) -> str:
        """`asks` filled in; a `(…{field}…)` or `:{field}` part whose field the request lacks is left out."""
        if self.literal:
            return self.asks
        match = self.pattern.fullmatch(path)
        parts = {name: _short(unquote(value)) for name, value in (match.groupdict() if match else {}).items()}
        fields = {**{k: familiar(v) for k, v in query.items() if v not in ("…", "")}, **parts}

        def optional(part: re.Match[str]) -> str:
            return part[0] if all(name in fields for name in _FIELD.findall(part[0])) else ""

        template = _OPTIONAL.sub(optional, self.asks)
        return " ".join(_FIELD.sub(lambda field: fields.get(field[1], ""), template).split())


_FIELD = re.compile(r"\{(\w+)\}")
_OPTIONAL = re.compile(r"\([^()]*\{\w+\}[^()]*\)|:\{\w+\}")


def _short(value: str) -> str:
    """A full 64-hex id is shown as Docker shows ids: its first 12 characters."""
    return value[:12] if re.fullmatch(r"[0-9a-f]{64}", value) else value


def _row(method: str, path: str, asks: str, causes: set[str] | frozenset[str] = frozenset(),
         subject: str = ANY) -> Endpoint:
    """`path` is a template: `{id}` is one path segment, `{name}` may span several (an image's repository)."""
    pattern = re.escape(path).replace(r"\{id\}", r"(?P<id>[^/]+)").replace(r"\{name\}", r"(?P<name>.+?)")
    return Endpoint(method, re.compile(pattern), asks, frozenset(causes), subject)


ENDPOINTS: tuple[Endpoint, ...] = (
    _row("HEAD", "/_ping", "ping the daemon"),
    _row("GET", "/_ping", "ping the daemon"),
    _row("GET", "/version", "ask the daemon's version"),
    _row("GET", "/info", "ask for the daemon's system info"),
    _row("GET", "/system/df", "ask what uses disk space"),
    _row("GET", "/events", "follow the daemon's events"),
    _row("POST", "/auth", "log in to a registry"),
    _row("POST", "/session", "open a build session"),
    # Containers
    _row("POST", "/containers/create", "create container {name}",
         {"container-create", "volume-create"}, NAME),
    _row("POST", "/containers/{id}/start", "start {id}",
         {"container-start", "network-connect", "volume-mount", *_CONTAINER_LIFE}, CONTAINER),
    _row("POST", "/containers/{id}/attach", "attach to {id}'s output",
         {"container-attach", "container-detach", *_CONTAINER_LIFE}, CONTAINER),
    _row("POST", "/containers/{id}/wait", "wait for {id} to end ({condition})",
         {"container-destroy", *_CONTAINER_LIFE}, CONTAINER),
    _row("POST", "/containers/{id}/stop", "stop {id} (after {t} s)",
         {"container-kill", "container-stop", *_CONTAINER_LIFE}, CONTAINER),
    _row("POST", "/containers/{id}/kill", "kill {id} ({signal})", {"container-kill", *_CONTAINER_LIFE}, CONTAINER),
    _row("POST", "/containers/{id}/restart", "restart {id}",
         {"container-kill", "container-stop", "container-start", "container-restart", "network-connect",
          "volume-mount", *_CONTAINER_LIFE}, CONTAINER),
    _row("POST", "/containers/{id}/pause", "pause {id}", {"container-pause"}, CONTAINER),
    _row("POST", "/containers/{id}/unpause", "unpause {id}", {"container-unpause"}, CONTAINER),
    _row("DELETE", "/containers/{id}", "remove container {id}",
         {"container-destroy", "container-kill", "volume-destroy", *_CONTAINER_LIFE}, CONTAINER),
    _row("POST", "/containers/{id}/exec", "prepare a command to run in {id}", {"container-exec-create"}, CONTAINER),
    _row("POST", "/exec/{id}/start", "run the prepared command",
         {"container-exec-start", "container-exec-die", "container-exec-detach"}, EXEC),
    _row("POST", "/exec/{id}/resize", "resize the command's terminal", {"container-resize"}),
    _row("GET", "/exec/{id}/json", "ask how the command ended"),
    _row("POST", "/containers/{id}/resize", "resize {id}'s terminal", {"container-resize"}, CONTAINER),
    _row("GET", "/containers/{id}/logs", "read {id}'s logs (follow={follow})"),
    _row("GET", "/containers/{id}/json", "inspect container {id}"),
    _row("GET", "/containers/{id}/top", "list {id}'s processes", {"container-top"}, CONTAINER),
    _row("GET", "/containers/{id}/stats", "read {id}'s resource use"),
    _row("GET", "/containers/{id}/export", "export {id}'s files", {"container-export"}, CONTAINER),
    _row("GET", "/containers/{id}/archive", "copy files out of {id}", {"container-archive-path"}, CONTAINER),
    _row("HEAD", "/containers/{id}/archive", "look at a path in {id}"),
    _row("PUT", "/containers/{id}/archive", "copy files into {id}", {"container-extract-to-dir"}, CONTAINER),
    _row("POST", "/containers/{id}/rename", "rename {id} to {name}", {"container-rename"}, CONTAINER),
    _row("POST", "/containers/{id}/update", "update {id}'s limits", {"container-update"}, CONTAINER),
    _row("GET", "/containers/json", "list containers"),
    _row("POST", "/containers/prune", "remove stopped containers", {"container-prune", "container-destroy"}),
    _row("POST", "/commit", "commit {container} as {repo}:{tag}",
         {"container-commit", "container-pause", "container-unpause", "image-tag"}, COMMITTED),
    # Images
    _row("POST", "/images/create", "pull {fromImage}:{tag}",
         {"image-pull", "image-tag", "image-import", "registry-pull"}, PULLED),
    _row("POST", "/images/{name}/push", "push {name}:{tag}",
         {"image-push", "registry-push", "registry-mount", "registry-pull"}, PUSHED),
    _row("POST", "/images/{name}/tag", "tag {name} as {repo}:{tag}", {"image-tag"}, TAGGED),
    _row("DELETE", "/images/{name}", "remove image {name}", {"image-untag", "image-delete"}),
    _row("GET", "/images/json", "list images"),
    _row("GET", "/images/get", "save images {names}", {"image-save"}),
    _row("GET", "/images/{name}/get", "save image {name}", {"image-save"}),
    _row("GET", "/images/{name}/json", "inspect image {name}"),
    _row("GET", "/images/{name}/history", "ask image {name}'s history"),
    _row("POST", "/images/load", "load images", {"image-load", "image-tag", "image-untag", "image-delete"}),
    _row("POST", "/images/prune", "remove unused images", {"image-prune", "image-delete", "image-untag"}),
    _row("POST", "/build", "build {t}", _BUILD),
    _row("POST", "/build/prune", "remove the build cache", {"builder-prune"}),
    # Networks and volumes
    _row("GET", "/networks", "list networks"),
    _row("POST", "/networks/create", "create network", {"network-create"}),
    _row("POST", "/networks/prune", "remove unused networks", {"network-prune", "network-destroy"}),
    _row("POST", "/networks/{id}/connect", "connect a container to network {id}", {"network-connect"}),
    _row("POST", "/networks/{id}/disconnect", "disconnect a container from network {id}", {"network-disconnect"}),
    _row("GET", "/networks/{id}", "inspect network {id}"),
    _row("DELETE", "/networks/{id}", "remove network {id}", {"network-destroy"}),
    _row("GET", "/volumes", "list volumes"),
    _row("POST", "/volumes/create", "create volume", {"volume-create"}),
    _row("POST", "/volumes/prune", "remove unused volumes", {"volume-prune", "volume-destroy"}),
    _row("GET", "/volumes/{id}", "inspect volume {id}"),
    _row("DELETE", "/volumes/{id}", "remove volume {id}", {"volume-destroy"}),
)

# What a dashboard pull (archviz's own request to the daemon) can cause.
ACTION_PULL = Endpoint("POST", re.compile(""), "pull", frozenset({"image-pull", "image-tag", "registry-pull"}),
                       PULLED)


def _unknown_endpoint(method: str, path: str) -> Endpoint:
    return Endpoint(method, re.compile(re.escape(path)), f"{method} {path}", literal=True)


@lru_cache(maxsize=4096)  # a request's head, answer and stream end each ask for the same row
def endpoint_for(method: str, path: str) -> Endpoint:
    """The row of a request; an endpoint the table does not know asks in HTTP's words and causes nothing."""
    for endpoint in ENDPOINTS:
        if endpoint.method == method and endpoint.pattern.fullmatch(path):
            return endpoint
    return _unknown_endpoint(method, path)


def daemon_asked(notification: Mapping[str, Any]) -> bool:
    """Whether a registry notification is of a daemon's request (its user agent says `docker/…`): only those can
    be caused by a client's request to a daemon; curl and the like talk to the registry on their own."""
    return str(notification["attributes"].get("user_agent", "")).startswith("docker/")


def query_of(attributes: Mapping[str, Any]) -> dict[str, str]:
    query = attributes.get("query")
    return {str(k): str(v) for k, v in query.items()} if isinstance(query, dict) else {}


def request_subject(endpoint: Endpoint, path: str, query: Mapping[str, str]) -> str:
    """What the request names, as its row's subject rule reads it ("" when it names nothing usable)."""
    rule = endpoint.subject
    if rule in (CONTAINER, EXEC):
        return _path_part(endpoint, path, "id")
    if rule == NAME:
        return _known(query, "name")
    if rule == COMMITTED:
        return _known(query, "container")
    if rule == PULLED and (image := _known(query, "fromImage")):
        return normalize_reference(f"{image}:{_known(query, 'tag') or 'latest'}" if "@" not in image else image)
    if rule == PUSHED:
        return normalize_reference(f"{_path_part(endpoint, path, 'name')}:{_known(query, 'tag') or 'latest'}")
    if rule == TAGGED and (repo := _known(query, "repo")):
        return normalize_reference(f"{repo}:{_known(query, 'tag') or 'latest'}")
    return ""


def _path_part(endpoint: Endpoint, path: str, name: str) -> str:
    """A named part of the request's path (`{id}`, `{name}`), unquoted; "" when the path has none."""
    match = endpoint.pattern.fullmatch(path)
    return unquote(match[name]) if match and name in endpoint.pattern.groupindex else ""


def _known(query: Mapping[str, str], name: str) -> str:
    """A query parameter's value; "" for one the tap masked (`…`) or that is not there."""
    value = query.get(name, "")
    return "" if value == "…" else value
