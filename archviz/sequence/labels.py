"""What each observation draws, in Docker's words: one small function per observation kind, registered in
`ARROWS` with `@arrows(kind, …)`. Which box an arrow goes in is decided elsewhere (archviz.sequence.spans and
.commands); these only say who sends what to whom. A new kind is one function and one decorator line.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from archviz.kinds import HARBOR_KINDS
from archviz.sequence.model import CLIENT, DAEMON, NOTE, REGISTRY, REPLY, REQUEST, RUNTIME, SELF, USER, Arrow
from archviz.sequence.names import human_size, short_id
from archviz.sequence.rules import daemon_asked, endpoint_for, query_of

SIGNALS = {"1": "SIGHUP", "2": "SIGINT", "3": "SIGQUIT", "9": "SIGKILL", "15": "SIGTERM", "19": "SIGSTOP"}

ArrowRule = Callable[[dict[str, Any]], list[Arrow]]
ARROWS: dict[str, ArrowRule] = {}


def arrows(*kinds: str) -> Callable[[ArrowRule], ArrowRule]:
    def register(function: ArrowRule) -> ArrowRule:
        for kind in kinds:
            ARROWS[kind] = function
        return function

    return register


def arrows_for(observation: dict[str, Any]) -> list[Arrow]:
    return ARROWS.get(observation["kind"], _unknown)(observation)


def _unknown(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, NOTE, o["kind"])]


def _name(observation: dict[str, Any]) -> str:
    return observation["subject"] or short_id(observation["attributes"].get("id", ""))


def _exit_code(observation: dict[str, Any]) -> str:
    return str(observation["attributes"].get("exitCode", "?"))


# Daemon rules --------------------------------------------------------------------------------------


@arrows("image-pull")
def _pull(o: dict[str, Any]) -> list[Arrow]:
    ref = o["subject"]
    return [
        Arrow(CLIENT, DAEMON, REQUEST, f"pull {ref}"),
        Arrow(DAEMON, REGISTRY, REQUEST, f"pull {ref}"),
        Arrow(REGISTRY, DAEMON, REPLY, "manifest and layers"),
        Arrow(DAEMON, CLIENT, REPLY, f"pulled {ref}"),
    ]


@arrows("image-push")
def _push(o: dict[str, Any]) -> list[Arrow]:
    ref = o["subject"]
    return [
        Arrow(CLIENT, DAEMON, REQUEST, f"push {ref}"),
        Arrow(DAEMON, REGISTRY, REQUEST, f"push {ref}"),
        Arrow(REGISTRY, DAEMON, REPLY, "layers and manifest stored"),
        Arrow(DAEMON, CLIENT, REPLY, f"pushed {ref}"),
    ]


@arrows("image-tag")
def _tag(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, f"tag {short_id(o['attributes'].get('id', ''))} as {o['subject']}")]


@arrows("image-untag", "image-delete")
def _remove_image(o: dict[str, Any]) -> list[Arrow]:
    action = "untag" if o["kind"] == "image-untag" else "delete image"
    return [Arrow(DAEMON, DAEMON, SELF, f"{action} {short_id(o['subject'])}")]


@arrows("image-import", "image-load", "image-save")
def _image_transfer(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, f"{o['kind'].removeprefix('image-')} image {o['subject']}")]


@arrows("container-create")
def _create(o: dict[str, Any]) -> list[Arrow]:
    image = o["attributes"].get("image", "")
    image = short_id(image) if image.startswith("sha256:") else image
    return [Arrow(CLIENT, DAEMON, REQUEST, f"create container {_name(o)}" + (f" from {image}" if image else ""))]


@arrows("container-attach")
def _attach(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, f"attach to {_name(o)} (output streams back)")]


@arrows("container-start")
def _start(o: dict[str, Any]) -> list[Arrow]:
    return [
        Arrow(CLIENT, DAEMON, REQUEST, f"start {_name(o)}"),
        Arrow(DAEMON, RUNTIME, REQUEST, f"create and start task {_name(o)}"),
    ]


@arrows("container-die")
def _die(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(RUNTIME, DAEMON, REPLY, f"{_name(o)} exited with code {_exit_code(o)}")]


@arrows("container-kill")
def _kill(o: dict[str, Any]) -> list[Arrow]:
    number = str(o["attributes"].get("signal", ""))
    return [Arrow(DAEMON, RUNTIME, REQUEST, f"send {SIGNALS.get(number, 'signal ' + number)} to {_name(o)}")]


@arrows("container-stop")
def _stop(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, CLIENT, REPLY, f"stopped {_name(o)}")]


@arrows("container-destroy")
def _destroy(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, SELF, f"remove container {_name(o)}")]


@arrows("container-pause", "container-unpause")
def _pause(o: dict[str, Any]) -> list[Arrow]:
    verb = "freeze" if o["kind"] == "container-pause" else "thaw"
    return [
        Arrow(CLIENT, DAEMON, REQUEST, f"{o['kind'].removeprefix('container-')} {_name(o)}"),
        Arrow(DAEMON, RUNTIME, REQUEST, f"{verb} {_name(o)}"),
    ]


@arrows("container-exec-create")
def _exec_create(o: dict[str, Any]) -> list[Arrow]:
    command = o["attributes"].get("detail", "")
    return [Arrow(CLIENT, DAEMON, REQUEST, f"exec {command} in {_name(o)}" if command else f"exec in {_name(o)}")]


@arrows("container-exec-start")
def _exec_start(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, RUNTIME, REQUEST, f"run process {o['attributes'].get('detail', '')} in {_name(o)}")]


@arrows("container-exec-die")
def _exec_die(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(RUNTIME, DAEMON, REPLY, f"exec in {_name(o)} exited with code {_exit_code(o)}")]


@arrows("container-oom")
def _oom(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(RUNTIME, DAEMON, REPLY, f"{_name(o)} ran out of memory")]


@arrows("container-health-status")
def _health(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, SELF, f"{_name(o)} is {o['attributes'].get('detail', 'checked')}")]


@arrows("container-archive-path", "container-extract-to-dir", "container-commit", "container-copy",
        "container-export", "container-rename", "container-resize",
      "container-top", "container-update", "container-restart", "container-detach", "container-exec-detach",
      "container-prune")
def _container_request(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, f"{o['kind'].removeprefix('container-').replace('-', ' ')} {_name(o)}")]


@arrows("network-connect", "network-disconnect")
def _network_link(o: dict[str, Any]) -> list[Arrow]:
    container = short_id(o["attributes"].get("container", ""))
    verb = "connect" if o["kind"] == "network-connect" else "disconnect"
    preposition = "to" if verb == "connect" else "from"
    return [Arrow(DAEMON, DAEMON, SELF, f"{verb} {container} {preposition} network {o['subject']}")]


def _object_action(o: dict[str, Any]) -> list[Arrow]:
    object_type, _, action = o["kind"].partition("-")
    return [Arrow(DAEMON, DAEMON, SELF, f"{action.replace('-', ' ')} {object_type} {_name(o)}")]


for _kind in ("network-create", "network-destroy", "network-update", "network-remove", "network-prune",
              "volume-create", "volume-mount", "volume-unmount", "volume-destroy", "volume-prune", "image-prune",
              "builder-prune", "daemon-reload"):
    ARROWS[_kind] = _object_action


def _client_asks(o: dict[str, Any]) -> list[Arrow]:
    object_type, _, action = o["kind"].partition("-")
    return [Arrow(CLIENT, DAEMON, REQUEST, f"{action} {object_type} {_name(o)}")]


for _object in ("plugin", "service", "node", "secret", "config"):
    for _action in ("create", "update", "remove", "enable", "disable", "install"):
        ARROWS.setdefault(f"{_object}-{_action}", _client_asks)


# Registry rules ---------------------------------------------------------------------------------------


def _sender_of_registry_request(o: dict[str, Any]) -> str:
    """The daemon talks to registries with a user agent of its own; anything else is a client (curl, …)."""
    return DAEMON if daemon_asked(o) else CLIENT


def _blob(o: dict[str, Any]) -> str:
    attributes = o["attributes"]
    size = attributes.get("size")
    return f"blob {short_id(attributes.get('digest', ''))}" + (f" ({human_size(size)})" if size else "")


@arrows("registry-push", "registry-pull")
def _registry_transfer(o: dict[str, Any]) -> list[Arrow]:
    """A registry notifies what it served: the request, and the answer it gave (it notifies only successes)."""
    attributes = o["attributes"]
    method = attributes.get("method") or ("PUT" if o["kind"] == "registry-push" else "GET")
    blob = attributes.get("target") == "blob"
    size = attributes.get("size")
    if blob:
        what = f"blob {short_id(attributes.get('digest', ''))}"
        sized = f"{what} ({human_size(size)})" if size else what
    else:
        repository, _, digest = str(o["subject"]).partition("@")
        what = f"manifest {repository}@{short_id(digest)}" if digest else f"manifest {repository}"
        sized = f"manifest ({human_size(size)})" if size else "manifest"
    asker = _sender_of_registry_request(o)
    if method == "HEAD":
        return [Arrow(asker, REGISTRY, REQUEST, f"does {what} exist? (HEAD)"), Arrow(REGISTRY, asker, REPLY, "it does")]
    if o["kind"] == "registry-push":
        uploaded = f"upload {what}" + (f" ({human_size(size)})" if size else "")
        stored = f"{what} stored" if blob else "manifest stored"
        return [Arrow(asker, REGISTRY, REQUEST, uploaded), Arrow(REGISTRY, asker, REPLY, stored)]
    return [Arrow(asker, REGISTRY, REQUEST, f"download {what}"), Arrow(REGISTRY, asker, REPLY, sized)]


@arrows("registry-mount")
def _registry_mount(o: dict[str, Any]) -> list[Arrow]:
    source = o["attributes"].get("from_repository", "")
    return [Arrow(_sender_of_registry_request(o), REGISTRY, REQUEST, f"mount {_blob(o)} from {source}")]


@arrows("registry-delete")
def _registry_delete(o: dict[str, Any]) -> list[Arrow]:
    what = "tag" if o["attributes"].get("target") == "tag" else o["attributes"].get("target", "manifest")
    return [Arrow(_sender_of_registry_request(o), REGISTRY, REQUEST, f"delete {what} {o['subject']}")]


@arrows(*HARBOR_KINDS)
def _harbor(o: dict[str, Any]) -> list[Arrow]:
    """Harbor's events are the audit's: they name an operator but no client or daemon, so they draw nothing (the
    Sequencer folds them outside any box, as it does the watcher's reports)."""
    return []


# The API tap ------------------------------------------------------------------------------------------


def request_label(attributes: dict[str, Any]) -> str:
    """A request in Docker's words (`create container c1`), from the endpoint table."""
    method, path = str(attributes.get("method", "")), str(attributes.get("path", ""))
    return _says(method, path, tuple(query_of(attributes).items()))


@lru_cache(maxsize=4096)  # clients ask the same things again and again (every command pings first)
def _says(method: str, path: str, query: tuple[tuple[str, str], ...]) -> str:
    return endpoint_for(method, path).says(path, dict(query))


def wire_line(attributes: dict[str, Any]) -> str:
    """The request as it went over the wire, for the detail of an arrow: `POST /containers/create?name=c1`."""
    line = f"{attributes.get('method', '')} {attributes.get('path', '')}"
    if query := attributes.get("query"):
        line += "?" + "&".join(f"{name}={value}" for name, value in query.items())
    status = attributes.get("status")
    return f"{line} → {status}" if status else line


@arrows("api-request")
def _api_request(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, request_label(o["attributes"]))]


@arrows("api-call")
def _api_call(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    status = attributes.get("status", "")
    reply = f"{status} {attributes.get('error') or attributes.get('reason', '')}".strip()
    if attributes.get("upgraded"):
        reply = f"{status} switched to a raw stream"
    elif not status:
        reply = attributes.get("reason", "no answer")
    elif attributes.get("streamed"):
        reply = f"{reply}, streaming…"
    answer = Arrow(DAEMON, CLIENT, REPLY, reply)
    # A request recorded on its own (every request the tap could read) drew its request arrow already.
    return [answer] if attributes.get("announced") else [Arrow(CLIENT, DAEMON, REQUEST, request_label(attributes)),
                                                         answer]


ENDINGS = {
    "complete": "ended", "closed": "closed", "client-gone": "cut: the client went away",
    "daemon-gone": "cut: the daemon closed the connection", "tap-stopped": "cut: the tap stopped",
}


# What a streamed answer is, by the end of its path.
STREAMS = {
    "/images/create": "pull progress", "/push": "push progress", "/build": "build output", "/events": "events",
    "/logs": "logs", "/stats": "stats", "/images/get": "image archive", "/get": "image archive",
    "/export": "container archive", "/archive": "files", "/images/load": "image load",
}


@arrows("api-stream-end")
def _api_stream_end(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    path, ending = str(attributes.get("path", "")), str(attributes.get("ending", ""))
    seconds = f"{float(attributes.get('duration_ms') or 0) / 1000:.1f} s"
    sent = human_size(int(attributes.get("response_bytes") or 0))
    if path.endswith("/wait") and "exit_code" in attributes:
        error = attributes.get("error")
        return [Arrow(DAEMON, CLIENT, REPLY, f"exit {attributes['exit_code']}" + (f": {error}" if error else ""))]
    if attributes.get("upgraded"):
        stream = "output" if path.endswith("/attach") or "/exec/" in path else "raw stream"
        return [Arrow(DAEMON, CLIENT, REPLY, f"{stream} {ENDINGS.get(ending, ending)} ({sent} in {seconds})")]
    stream = next((name for end, name in STREAMS.items() if path.endswith(end)), path.rsplit("/", 1)[-1] or path)
    error = f": {attributes['error']}" if attributes.get("error") else ""
    return [Arrow(DAEMON, CLIENT, REPLY, f"{stream} {ENDINGS.get(ending, ending)} ({sent} in {seconds}){error}")]


@arrows("api-push-layer")
def _api_push_layer(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    layer, message, size = attributes.get("layer", ""), str(attributes.get("message", "")), attributes.get("size")
    if attributes.get("error"):
        return [Arrow(REGISTRY, DAEMON, REPLY, f"push refused: {attributes['error']}")]
    told = Arrow(DAEMON, CLIENT, REPLY, f"{layer}: {message}")  # what the client shows for the layer
    if message == "Layer already exists":
        return [Arrow(DAEMON, REGISTRY, REQUEST, f"does layer {layer} exist? (HEAD)"),
                Arrow(REGISTRY, DAEMON, REPLY, "it does: not sent again"), told]
    if message.startswith("Mounted from "):
        return [Arrow(DAEMON, REGISTRY, REQUEST, f"mount layer {layer} {message.removeprefix('Mounted ')}"),
                Arrow(REGISTRY, DAEMON, REPLY, "mounted: not sent again"), told]
    return [Arrow(DAEMON, REGISTRY, REQUEST, f"push layer {layer}" + (f" ({human_size(size)})" if size else "")),
            Arrow(REGISTRY, DAEMON, REPLY, f"layer {layer} stored"), told]


@arrows("api-build-step")
def _api_build_step(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    if attributes.get("error"):
        return [Arrow(DAEMON, CLIENT, REPLY, f"build failed: {attributes['error']}")]
    return [Arrow(DAEMON, DAEMON, SELF, f"Step {attributes.get('step')}/{attributes.get('steps')}: "
                                        f"{attributes.get('instruction', '')}")]


# Dashboard actions ------------------------------------------------------------------------------------


@arrows("action-pull")
def _action_pull(o: dict[str, Any]) -> list[Arrow]:
    return [
        Arrow(USER, CLIENT, REQUEST, f"pull {o['subject']} (from the dashboard)"),
        Arrow(CLIENT, DAEMON, REQUEST, f"pull {o['subject']}"),
    ]


@arrows("action-pull-layer", "api-pull-layer")
def _action_pull_layer(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    layer = attributes.get("layer", "")
    if attributes.get("message") == "Already exists":
        return [Arrow(DAEMON, DAEMON, SELF, f"layer {layer} already exists")]
    size = attributes.get("size")
    return [
        Arrow(DAEMON, REGISTRY, REQUEST, f"fetch layer {layer}"),
        Arrow(REGISTRY, DAEMON, REPLY, f"layer {layer}" + (f" ({human_size(size)})" if size else "")),
        Arrow(DAEMON, CLIENT, REPLY, f"{layer}: Pull complete"),
    ]


@arrows("action-pull-done", "action-pull-failed", "action-pull-cancelled")
def _action_pull_end(o: dict[str, Any]) -> list[Arrow]:
    outcome = o["kind"].removeprefix("action-pull-")
    message = o["attributes"].get("message", "")
    return [
        Arrow(DAEMON, CLIENT, REPLY, f"pull {outcome}"),
        Arrow(CLIENT, USER, REPLY, f"pull {outcome}" + (f": {message}" if message else "")),
    ]


@arrows("daemon-other")
def _other(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    return [Arrow(DAEMON, DAEMON, NOTE, f"{attributes.get('type', '')} {attributes.get('action', '')}".strip())]


@arrows("watcher-connected")
def _connected(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, NOTE, f"archviz is watching: {o['attributes'].get('message', '')}")]


@arrows("watcher-unreachable")
def _unreachable(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, NOTE, f"daemon unreachable: {o['attributes'].get('message', '')}")]
