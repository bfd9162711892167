"""Observations in, sequence-diagram Messages out: who asked what of whom, grouped by client command.

Pure and deterministic: the live socket, the snapshot, the Mermaid export and the tests all fold the
same observations through a `Sequencer` and get the same Messages. Observations come in their wire
shape (`StoredObservation.to_wire()`), so a replay from the store and a live batch look alike.

A source adds its kinds to `RULES` (one function per kind, registered with `@rule`); the grouping of
Messages into interactions is shared by all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from archviz.sources.tap import transfer

# Messages of one command arrive in a burst; a gap this long closes an interaction, unless a client
# is still attached to a running container (its output is still streaming back).
BURST_NS = 10_000_000_000
# A create that follows a pull of its image this soon is the same `docker run`: the image was missing.
PULL_THEN_CREATE_NS = 30_000_000_000
IMAGE_NOT_FOUND = "image not found locally"
SIGNALS = {"1": "SIGHUP", "2": "SIGINT", "3": "SIGQUIT", "9": "SIGKILL", "15": "SIGTERM", "19": "SIGSTOP"}

REQUEST, REPLY, SELF, NOTE = "request", "reply", "self", "note"
# The parties, in the order the legend and the filters list them.
ROLES = ("user", "client", "daemon", "runtime", "registry")


@dataclass(frozen=True, slots=True)
class Participant:
    """A lifeline. Roles: user, client, daemon, runtime, registry."""

    id: str
    role: str
    label: str


@dataclass(frozen=True, slots=True)
class Message:
    """One arrow (or note) of the diagram. `id` is stable: the observation's id and the arrow's place."""

    id: str
    time_ns: int
    sender: str
    receiver: str
    kind: str
    label: str
    observation: int
    interaction: str | None
    block: str | None = None
    # True when the arrow is read off a daemon event rather than seen on the wire.
    inferred: bool = True

    def to_wire(self) -> dict[str, Any]:
        wire = asdict(self)
        wire["time_ns"] = str(self.time_ns)
        return wire


@dataclass(slots=True)
class Interaction:
    """The Messages of one client command, drawn as a box with a title. `blocks` maps the id of a block
    of its Messages to the label of the `alt` frame drawn around them (IMAGE_NOT_FOUND for a pull that a
    `docker run` needed)."""

    id: str
    title: str
    blocks: dict[str, str] = field(default_factory=dict)
    last_ns: int = 0
    container: str = ""
    image: str = ""
    kinds: set[str] = field(default_factory=set)
    block: str = ""  # the block its registry transfer's arrows share
    seen_registry: bool = False
    seen_tap: bool = False  # the client's own requests are drawn: daemon events need not guess them

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "blocks": dict(self.blocks)}


@dataclass(slots=True)
class Delta:
    participants: list[Participant] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "participants": [asdict(p) for p in self.participants],
            "messages": [m.to_wire() for m in self.messages],
            "interactions": [i.to_wire() for i in self.interactions],
        }


@dataclass(frozen=True, slots=True)
class Arrow:
    """What a rule returns: an arrow between roles, before participants and ids are assigned."""

    sender: str
    receiver: str
    kind: str
    label: str


Rule = Callable[[dict[str, Any]], list[Arrow]]
RULES: dict[str, Rule] = {}


def rule(*kinds: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        for kind in kinds:
            RULES[kind] = function
        return function

    return register


# Roles: the participant of each role is chosen per observation (the daemon of its host, the registry
# of its image reference).
USER, CLIENT, DAEMON, RUNTIME, REGISTRY = "user", "client", "daemon", "runtime", "registry"


def normalize_reference(reference: str) -> str:
    """`busybox` and `busybox:latest` name the same image; a digest or tag is kept as it is."""
    if not reference or reference.startswith("sha256:") or "@" in reference:
        return reference
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last else f"{reference}:latest"


def repository_of(reference: str) -> str:
    """`127.0.0.1:5000/lab/app:1` -> `lab/app`; `busybox` -> `library/busybox` (as Docker Hub names it)."""
    name = reference.split("@", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name.rsplit(":", 1)[0]
    return name if "/" in name or registry_host(reference) != "docker.io" else f"library/{name}"


def registry_host(reference: str) -> str:
    """The registry an image reference points at (Docker Hub when the first part is not a host)."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def short_id(identifier: str) -> str:
    return identifier.removeprefix("sha256:")[:12]


def _name(observation: dict[str, Any]) -> str:
    return observation["subject"] or short_id(observation["attributes"].get("id", ""))


def _exit_code(observation: dict[str, Any]) -> str:
    return str(observation["attributes"].get("exitCode", "?"))


# Daemon rules --------------------------------------------------------------------------------------


@rule("image-pull")
def _pull(o: dict[str, Any]) -> list[Arrow]:
    ref = o["subject"]
    return [
        Arrow(CLIENT, DAEMON, REQUEST, f"pull {ref}"),
        Arrow(DAEMON, REGISTRY, REQUEST, f"pull {ref}"),
        Arrow(REGISTRY, DAEMON, REPLY, "manifest and layers"),
        Arrow(DAEMON, CLIENT, REPLY, f"pulled {ref}"),
    ]


@rule("image-push")
def _push(o: dict[str, Any]) -> list[Arrow]:
    ref = o["subject"]
    return [
        Arrow(CLIENT, DAEMON, REQUEST, f"push {ref}"),
        Arrow(DAEMON, REGISTRY, REQUEST, f"push {ref}"),
        Arrow(REGISTRY, DAEMON, REPLY, "layers and manifest stored"),
        Arrow(DAEMON, CLIENT, REPLY, f"pushed {ref}"),
    ]


@rule("image-tag")
def _tag(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, f"tag {short_id(o['attributes'].get('id', ''))} as {o['subject']}")]


@rule("image-untag", "image-delete")
def _remove_image(o: dict[str, Any]) -> list[Arrow]:
    action = "untag" if o["kind"] == "image-untag" else "delete image"
    return [Arrow(DAEMON, DAEMON, SELF, f"{action} {short_id(o['subject'])}")]


@rule("image-import", "image-load", "image-save")
def _image_transfer(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, f"{o['kind'].removeprefix('image-')} image {o['subject']}")]


@rule("container-create")
def _create(o: dict[str, Any]) -> list[Arrow]:
    image = o["attributes"].get("image", "")
    return [Arrow(CLIENT, DAEMON, REQUEST, f"create container {_name(o)}" + (f" from {image}" if image else ""))]


@rule("container-attach")
def _attach(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, f"attach to {_name(o)} (output streams back)")]


@rule("container-start")
def _start(o: dict[str, Any]) -> list[Arrow]:
    return [
        Arrow(CLIENT, DAEMON, REQUEST, f"start {_name(o)}"),
        Arrow(DAEMON, RUNTIME, REQUEST, f"create and start task {_name(o)}"),
    ]


@rule("container-die")
def _die(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(RUNTIME, DAEMON, REPLY, f"{_name(o)} exited with code {_exit_code(o)}")]


@rule("container-kill")
def _kill(o: dict[str, Any]) -> list[Arrow]:
    number = str(o["attributes"].get("signal", ""))
    return [Arrow(DAEMON, RUNTIME, REQUEST, f"send {SIGNALS.get(number, 'signal ' + number)} to {_name(o)}")]


@rule("container-stop")
def _stop(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, CLIENT, REPLY, f"stopped {_name(o)}")]


@rule("container-destroy")
def _destroy(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, SELF, f"remove container {_name(o)}")]


@rule("container-pause", "container-unpause")
def _pause(o: dict[str, Any]) -> list[Arrow]:
    verb = "freeze" if o["kind"] == "container-pause" else "thaw"
    return [
        Arrow(CLIENT, DAEMON, REQUEST, f"{o['kind'].removeprefix('container-')} {_name(o)}"),
        Arrow(DAEMON, RUNTIME, REQUEST, f"{verb} {_name(o)}"),
    ]


@rule("container-exec-create")
def _exec_create(o: dict[str, Any]) -> list[Arrow]:
    command = o["attributes"].get("detail", "")
    return [Arrow(CLIENT, DAEMON, REQUEST, f"exec {command} in {_name(o)}" if command else f"exec in {_name(o)}")]


@rule("container-exec-start")
def _exec_start(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, RUNTIME, REQUEST, f"run process {o['attributes'].get('detail', '')} in {_name(o)}")]


@rule("container-exec-die")
def _exec_die(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(RUNTIME, DAEMON, REPLY, f"exec in {_name(o)} exited with code {_exit_code(o)}")]


@rule("container-oom")
def _oom(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(RUNTIME, DAEMON, REPLY, f"{_name(o)} ran out of memory")]


@rule("container-health-status")
def _health(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, SELF, f"{_name(o)} is {o['attributes'].get('detail', 'checked')}")]


@rule("container-commit", "container-copy", "container-export", "container-rename", "container-resize",
      "container-top", "container-update", "container-restart", "container-detach", "container-exec-detach",
      "container-prune")
def _container_request(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, f"{o['kind'].removeprefix('container-').replace('-', ' ')} {_name(o)}")]


@rule("network-connect", "network-disconnect")
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
    RULES[_kind] = _object_action


def _client_asks(o: dict[str, Any]) -> list[Arrow]:
    object_type, _, action = o["kind"].partition("-")
    return [Arrow(CLIENT, DAEMON, REQUEST, f"{action} {object_type} {_name(o)}")]


for _object in ("plugin", "service", "node", "secret", "config"):
    for _action in ("create", "update", "remove", "enable", "disable", "install"):
        RULES.setdefault(f"{_object}-{_action}", _client_asks)


# Registry rules ---------------------------------------------------------------------------------------


def _sender_of_registry_request(o: dict[str, Any]) -> str:
    """The daemon talks to registries with a user agent of its own; anything else is a client (curl, …)."""
    return DAEMON if o["attributes"].get("user_agent", "").startswith("docker/") else CLIENT


def _blob(o: dict[str, Any]) -> str:
    attributes = o["attributes"]
    size = attributes.get("size")
    return f"blob {short_id(attributes.get('digest', ''))}" + (f" ({human_size(size)})" if size else "")


@rule("registry-push", "registry-pull")
def _registry_transfer(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    method = attributes.get("method") or ("PUT" if o["kind"] == "registry-push" else "GET")
    what = _blob(o) if attributes.get("target") == "blob" else f"manifest {o['subject']}"
    if method == "HEAD":
        label = f"does {what.split(' (')[0]} exist? (HEAD)"
    elif o["kind"] == "registry-push":
        label = f"upload {what}"
    else:
        label = f"download {what}"
    return [Arrow(_sender_of_registry_request(o), REGISTRY, REQUEST, label)]


@rule("registry-mount")
def _registry_mount(o: dict[str, Any]) -> list[Arrow]:
    source = o["attributes"].get("from_repository", "")
    return [Arrow(_sender_of_registry_request(o), REGISTRY, REQUEST, f"mount {_blob(o)} from {source}")]


@rule("registry-delete")
def _registry_delete(o: dict[str, Any]) -> list[Arrow]:
    what = "tag" if o["attributes"].get("target") == "tag" else o["attributes"].get("target", "manifest")
    return [Arrow(_sender_of_registry_request(o), REGISTRY, REQUEST, f"delete {what} {o['subject']}")]


def human_size(size: int) -> str:
    value, unit = float(size), 0
    units = ("B", "kB", "MB", "GB", "TB")
    while value >= 1000 and unit < len(units) - 1:
        value, unit = value / 1000, unit + 1
    return f"{value:.0f} {units[unit]}" if unit == 0 else f"{value:.1f} {units[unit]}"


# The API tap ------------------------------------------------------------------------------------------


def _request_label(attributes: dict[str, Any]) -> str:
    query = attributes.get("query") or {}
    shown = ", ".join(f"{k}={v}" for k, v in query.items() if k in ("fromImage", "tag", "name", "condition"))
    path = str(attributes.get("path", ""))
    if container := attributes.get("container"):
        path = path.replace(f"/{container}/", f"/{short_id(container)}/")
    return f"{attributes.get('method', '')} {path}" + (f" ({shown})" if shown else "")


@rule("api-request")
def _api_request(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(CLIENT, DAEMON, REQUEST, _request_label(o["attributes"]))]


@rule("api-call")
def _api_call(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    request = _request_label(attributes)
    status = attributes.get("status", "")
    reply = f"{status} {attributes.get('error') or attributes.get('reason', '')}".strip()
    if attributes.get("upgraded"):
        reply = f"{status} switched to a raw stream"
    elif not status:
        reply = attributes.get("reason", "no answer")
    elif attributes.get("streamed"):
        reply = f"{reply}, streaming…"
    answer = Arrow(DAEMON, CLIENT, REPLY, reply)
    return [answer] if attributes.get("announced") else [Arrow(CLIENT, DAEMON, REQUEST, request), answer]


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


@rule("api-stream-end")
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


@rule("api-push-layer")
def _api_push_layer(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    layer, message, size = attributes.get("layer", ""), str(attributes.get("message", "")), attributes.get("size")
    if attributes.get("error"):
        return [Arrow(REGISTRY, DAEMON, REPLY, f"push refused: {attributes['error']}")]
    if message == "Layer already exists":
        return [Arrow(DAEMON, REGISTRY, REQUEST, f"does layer {layer} exist? (HEAD)"),
                Arrow(REGISTRY, DAEMON, REPLY, "it does: not sent again")]
    if message.startswith("Mounted from "):
        return [Arrow(DAEMON, REGISTRY, REQUEST, f"mount layer {layer} {message.removeprefix('Mounted ')}"),
                Arrow(REGISTRY, DAEMON, REPLY, "mounted: not sent again")]
    return [Arrow(DAEMON, REGISTRY, REQUEST, f"push layer {layer}" + (f" ({human_size(size)})" if size else "")),
            Arrow(REGISTRY, DAEMON, REPLY, f"layer {layer} stored")]


@rule("api-build-step")
def _api_build_step(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    if attributes.get("error"):
        return [Arrow(DAEMON, CLIENT, REPLY, f"build failed: {attributes['error']}")]
    return [Arrow(DAEMON, DAEMON, SELF, f"Step {attributes.get('step')}/{attributes.get('steps')}: "
                                        f"{attributes.get('instruction', '')}")]


# Dashboard actions ------------------------------------------------------------------------------------


@rule("action-pull")
def _action_pull(o: dict[str, Any]) -> list[Arrow]:
    return [
        Arrow(USER, CLIENT, REQUEST, f"pull {o['subject']} (from the dashboard)"),
        Arrow(CLIENT, DAEMON, REQUEST, f"pull {o['subject']}"),
    ]


@rule("action-pull-layer", "api-pull-layer")
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


@rule("action-pull-done", "action-pull-failed", "action-pull-cancelled")
def _action_pull_end(o: dict[str, Any]) -> list[Arrow]:
    outcome = o["kind"].removeprefix("action-pull-")
    message = o["attributes"].get("message", "")
    return [
        Arrow(DAEMON, CLIENT, REPLY, f"pull {outcome}"),
        Arrow(CLIENT, USER, REPLY, f"pull {outcome}" + (f": {message}" if message else "")),
    ]


@rule("daemon-other")
def _other(o: dict[str, Any]) -> list[Arrow]:
    attributes = o["attributes"]
    return [Arrow(DAEMON, DAEMON, NOTE, f"{attributes.get('type', '')} {attributes.get('action', '')}".strip())]


@rule("watcher-connected")
def _connected(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, NOTE, f"archviz is watching: {o['attributes'].get('message', '')}")]


@rule("watcher-unreachable")
def _unreachable(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, NOTE, f"daemon unreachable: {o['attributes'].get('message', '')}")]


# Participants ---------------------------------------------------------------------------------------


def participant_for(role: str, observation: dict[str, Any]) -> Participant:
    host = observation["host"]
    if role == USER:
        user = observation["attributes"].get("user", "") or "someone"
        return Participant(f"user:{user}", USER, f"User {user}")
    if role == CLIENT and observation["source"] == "action":
        return Participant("client:archviz", CLIENT, "Client archviz dashboard")
    if observation["source"] == "registry" and role == REGISTRY:
        return Participant(f"registry:{host}", REGISTRY, f"Registry {host}")
    if role == DAEMON:
        return Participant(f"daemon:{host}", DAEMON, f"Daemon {host_label(host)}")
    if role == RUNTIME:
        return Participant(f"runtime:{host}", RUNTIME, "Runtime (containerd)")
    if role == REGISTRY:
        registry = registry_host(observation["subject"])
        return Participant(f"registry:{registry}", REGISTRY, f"Registry {registry}")
    agent = observation["attributes"].get("user_agent") if observation["source"] in {"tap", "registry"} else None
    if not agent:
        return Participant("client:docker", CLIENT, "Client")
    return Participant(f"client:{agent}", CLIENT, f"Client {agent.split(' ', 1)[0][:40]}")


def host_label(host: str) -> str:
    """A short name for a daemon address: the socket's file name, or host:port."""
    if host.startswith("unix://"):
        return host.rsplit("/", 1)[-1]
    return host.split("://", 1)[-1]


# Grouping -------------------------------------------------------------------------------------------


class Sequencer:
    """Folds observations, in store order, into Messages and interactions."""

    def __init__(self) -> None:
        self.participants: dict[str, Participant] = {}
        self.interactions: dict[str, Interaction] = {}
        self._open: dict[str, str] = {}  # grouping key -> open interaction id
        self._pulls: dict[str, tuple[str, str, int]] = {}  # image ref -> (interaction, block, time)
        # (registry host, repository) -> (interaction, block, time, daemon) of the newest registry transfer
        self._transfers: dict[tuple[str, str], tuple[str, str, int, str]] = {}

    def add(self, observation: dict[str, Any]) -> Delta:
        delta = Delta()
        arrows = RULES.get(observation["kind"], _unknown)(observation)
        interaction, block = self._group(observation, delta)
        if interaction is not None and observation["source"] == "daemon" and (
                interaction.seen_registry or "tap-layers" in interaction.kinds):
            # The registry's own notifications, or the layers read off the progress, already drew these arrows;
            # do not guess them again.
            arrows = [a for a in arrows if REGISTRY not in (a.sender, a.receiver)]
        if interaction is not None and observation["source"] == "daemon" and interaction.seen_tap:
            arrows = [a for a in arrows if CLIENT not in (a.sender, a.receiver)]
        for index, arrow in enumerate(arrows):
            sender = self._participant(arrow.sender, observation, delta)
            receiver = self._participant(arrow.receiver, observation, delta)
            delta.messages.append(Message(
                id=f"{observation['id']}.{index}", time_ns=int(observation["time_ns"]), sender=sender,
                receiver=receiver, kind=arrow.kind, label=arrow.label, observation=observation["id"],
                interaction=interaction.id if interaction else None, block=block,
                inferred=observation["source"] in {"daemon", "watcher"},
            ))
        return delta

    def _participant(self, role: str, observation: dict[str, Any], delta: Delta) -> str:
        if role == DAEMON and observation["source"] == "registry":
            participant = self._daemon_seen_by_registry(observation)
        else:
            participant = participant_for(role, observation)
        if participant.id not in self.participants:
            self.participants[participant.id] = participant
            delta.participants.append(participant)
        return participant.id

    def _daemon_seen_by_registry(self, o: dict[str, Any]) -> Participant:
        """A registry sees a daemon only by its address: when archviz watches exactly one daemon, it is that one."""
        daemons = [p for p in self.participants.values() if p.role == DAEMON and not p.id.startswith("daemon:at ")]
        if len(daemons) == 1:
            return daemons[0]
        client = o["attributes"].get("client", "") or "unknown"
        return Participant(f"daemon:at {client}", DAEMON, f"Daemon at {client}")

    def _group(self, o: dict[str, Any], delta: Delta) -> tuple[Interaction | None, str | None]:
        kind, now = o["kind"], int(o["time_ns"])
        if o["source"] == "watcher" or kind == "daemon-other":
            return None, None
        if o["source"] == "tap":
            # One client process is one command: its requests, over however many connections, share a box.
            key = f"tap:{o['host']}:{o['correlation'].split(':')[0] or o['correlation']}"
            interaction = self.interactions.get(self._open.get(key, ""))
            if interaction is None or now - interaction.last_ns > BURST_NS:
                interaction = self._new(key, f"i{o['id']}", _title(o), now)
            interaction.last_ns = now
            delta.interactions.append(interaction)
            return interaction, self._tap_joins(o, interaction, now)
        if o["source"] == "action":
            # One action is one interaction however long it takes: its end names its job.
            key = f"action:{o['correlation']}"
            interaction = self.interactions.get(self._open.get(key, ""))
            if interaction is None:
                interaction = self._new(key, f"i{o['id']}", _title(o), now)
            interaction.last_ns = now
            delta.interactions.append(interaction)
            return interaction, None
        self._forget_before(now)
        attributes = o["attributes"]
        block = None
        if kind.startswith("container-"):
            key = f"container:{o['host']}:{attributes.get('id', '')}"
            interaction = self._open_interaction(key, now)
            if interaction is None and kind == "container-create":
                interaction = self._adopt_pull(normalize_reference(attributes.get("image", "")), now)
            if interaction is None:
                interaction = self._new(key, f"i{o['id']}", _title(o), now)
            interaction.container = interaction.container or o["subject"]
            interaction.image = interaction.image or attributes.get("image", "")
            self._open[key] = interaction.id
            interaction.kinds.add(kind)
            if kind == "container-start" and "container-create" in interaction.kinds:
                interaction.title = f"docker run {interaction.image}"
        elif kind in {"network-connect", "network-disconnect"} and attributes.get("container"):
            key = f"container:{o['host']}:{attributes['container']}"
            interaction = self._open_interaction(key, now) or self._new(key, f"i{o['id']}", _title(o), now)
        elif kind.startswith("registry-"):
            registry, repository = o["host"], attributes.get("repository", "")
            key = f"registry:{registry}:{repository}:{attributes.get('client', '')}"
            # A client's pull or push the tap saw is the likelier owner than a transfer of the same client's
            # still open, say a push of the same repository a moment before.
            interaction = self._asked_through_tap(registry, repository, key, now) or self._open_interaction(key, now)
            if interaction is None:
                interaction = self._new(key, f"i{o['id']}", _title(o), now)
                interaction.block = f"b{o['id']}"
            interaction.seen_registry = True
            block = interaction.block
            self._transfers[(registry, repository)] = (interaction.id, block, now, "")
        elif kind in {"image-pull", "image-push"}:
            reference = o["subject"]
            transfer = self._transfers.get((registry_host(reference), repository_of(reference)))
            if transfer is not None and now - transfer[2] <= PULL_THEN_CREATE_NS:
                interaction, block = self.interactions[transfer[0]], transfer[1]
                interaction.title = _title(o)
            else:
                interaction = self._new(f"{kind}:{o['id']}", f"i{o['id']}", _title(o), now)
                block = f"b{o['id']}"
            if kind == "image-pull":
                self._pulls[normalize_reference(reference)] = (interaction.id, block, now)
        else:
            key = f"{kind.partition('-')[0]}:{o['host']}:{o['correlation'] or o['subject']}"
            interaction = self._open_interaction(key, now) or self._new(key, f"i{o['id']}", _title(o), now)
        interaction.last_ns = now
        delta.interactions.append(interaction)
        return interaction, block

    def _tap_joins(self, o: dict[str, Any], interaction: Interaction, now: int) -> str | None:
        """What a client's request tells about the rest: the container it names gets its daemon events drawn
        in this box; a pull or push it asks for gets the registry's side; a pull after a create's 404 is the
        image that was not found locally."""
        interaction.seen_tap = True
        attributes = o["attributes"]
        if o["kind"] in ("api-pull-layer", "api-push-layer"):
            interaction.kinds.add("tap-layers")
            return interaction.block or None
        if o["kind"] == "api-call" and attributes.get("announced"):
            return interaction.block or None  # its `api-request` opened the transfer's block
        if o["kind"] not in ("api-call", "api-request"):
            path = str(attributes.get("path", ""))
            # A stream end carries no query: its path says whether it ends a pull's or a push's progress.
            progress = path == "/images/create" or (path.startswith("/images/") and path.endswith("/push"))
            return (interaction.block or None) if progress else None
        if container := attributes.get("container"):
            self._open[f"container:{o['host']}:{container}"] = interaction.id
        path, query = str(attributes.get("path", "")), attributes.get("query") or {}
        reference = ""
        missing = str(attributes.get("error", "")).removeprefix("No such image: ")
        asked = transfer(str(attributes.get("method", "")), path, query)
        if path == "/containers/create" and attributes.get("status") == 404 and missing != attributes.get("error"):
            # The pull that follows is the image not found locally; the registry may hear of it before the tap
            # has stored the pull's own request (the daemon answers it only once it has the manifest).
            interaction.kinds.add("image-missing")
            reference = missing
        elif asked is not None:
            direction, reference = asked
            if direction == "pull" and "image-missing" in interaction.kinds and interaction.block:
                return interaction.block
        if not reference:
            return None
        interaction.block = f"b{o['id']}"
        if "image-missing" in interaction.kinds:
            interaction.blocks[interaction.block] = IMAGE_NOT_FOUND
        self._transfers[(registry_host(reference), repository_of(reference))] = (interaction.id, interaction.block,
                                                                                  now, "tap")
        return interaction.block if path != "/containers/create" else None

    def _asked_through_tap(self, registry: str, repository: str, key: str, now: int) -> Interaction | None:
        """The box of a client's pull or push the tap saw, when the registry's notification is about it."""
        asked = self._transfers.get((registry, repository))
        if asked is None or asked[3] != "tap" or now - asked[2] > PULL_THEN_CREATE_NS:
            return None
        interaction = self.interactions.get(asked[0])
        if interaction is not None:
            self._open[key] = interaction.id
        return interaction

    def _open_interaction(self, key: str, now: int) -> Interaction | None:
        interaction = self.interactions.get(self._open.get(key, ""))
        if interaction is None or "container-destroy" in interaction.kinds:
            return None
        attached_and_running = "container-attach" in interaction.kinds and "container-die" not in interaction.kinds
        if now - interaction.last_ns > BURST_NS and not attached_and_running:
            return None
        return interaction

    def _adopt_pull(self, image: str, now: int) -> Interaction | None:
        found = self._pulls.pop(image, None)
        if found is None or now - found[2] > PULL_THEN_CREATE_NS:
            return None
        interaction = self.interactions[found[0]]
        interaction.blocks[found[1]] = IMAGE_NOT_FOUND
        return interaction

    def _new(self, key: str, interaction_id: str, title: str, now: int) -> Interaction:
        interaction = Interaction(interaction_id, title, last_ns=now)
        self.interactions[interaction_id] = interaction
        self._open[key] = interaction_id
        return interaction

    def _forget_before(self, now: int) -> None:
        # Keep memory bounded on a long-running watcher: closed, quiet interactions are done.
        horizon = now - 6 * BURST_NS
        if len(self.interactions) < 512:
            return
        stale = {i for i, x in self.interactions.items() if x.last_ns < horizon and (
            "container-attach" not in x.kinds or "container-die" in x.kinds)}
        self.interactions = {i: x for i, x in self.interactions.items() if i not in stale}
        self._open = {k: i for k, i in self._open.items() if i not in stale}


def _unknown(o: dict[str, Any]) -> list[Arrow]:
    return [Arrow(DAEMON, DAEMON, NOTE, o["kind"])]


def _title(o: dict[str, Any]) -> str:
    kind, subject = o["kind"], o["subject"]
    titles = {
        "container-create": f"docker create {o['attributes'].get('image', subject)}",
        "container-start": f"docker start {subject}",
        "container-kill": f"docker kill {subject}",
        "container-stop": f"docker stop {subject}",
        "container-destroy": f"docker rm {subject}",
        "container-die": f"{subject} exited",
        "container-exec-create": f"docker exec {subject}",
        "image-pull": f"docker pull {subject}",
        "action-pull": f"pull {subject} from the dashboard",
        "api-call": f"{_client_program(o['attributes'])} (process {o['attributes'].get('pid') or '?'})",
        "image-push": f"docker push {subject}",
        "registry-push": f"push to {o['host']}/{o['attributes'].get('repository', '')}",
        "registry-pull": f"pull from {o['host']}/{o['attributes'].get('repository', '')}",
        "registry-mount": f"push to {o['host']}/{o['attributes'].get('repository', '')}",
        "registry-delete": f"delete in {o['host']}/{o['attributes'].get('repository', '')}",
        "image-tag": f"docker tag {subject}",
        "image-untag": f"docker rmi {short_id(subject)}",
        "image-delete": f"docker rmi {short_id(subject)}",
    }
    if kind in titles:
        return titles[kind]
    object_type, _, action = kind.partition("-")
    return f"docker {object_type} {action.replace('-', ' ')} {subject}".strip()


def _client_program(attributes: dict[str, Any]) -> str:
    return str(attributes.get("process") or attributes.get("user_agent", "a client").split(" ", 1)[0])


@dataclass
class Diagram:
    participants: list[Participant]
    messages: list[Message]
    interactions: dict[str, Interaction]

    def to_wire(self) -> dict[str, Any]:
        return {
            "participants": [asdict(p) for p in self.participants],
            "messages": [m.to_wire() for m in self.messages],
            "interactions": [i.to_wire() for i in self.interactions.values()],
        }


def sequence(observations: Iterable[dict[str, Any]]) -> Diagram:
    """The whole diagram of some observations, in the order given (store order)."""
    sequencer = Sequencer()
    messages: list[Message] = []
    interactions: dict[str, Interaction] = {}
    for observation in observations:
        delta = sequencer.add(observation)
        messages += delta.messages
        interactions.update((interaction.id, interaction) for interaction in delta.interactions)
    return Diagram(list(sequencer.participants.values()), messages, interactions)
