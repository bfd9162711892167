"""Observations in, Messages out: the one mapping the live socket, the snapshot, the Mermaid export and the tests
all fold observations through.

1. A tapped request (or a dashboard pull) is a span (archviz.sequence.spans); the spans one client process makes
   are one command, drawn as one box (archviz.sequence.commands), opened by the User typing it and closed by the
   client telling the User how it went.
2. A daemon event or registry notification is drawn in the box of the span that caused it, right after that
   span's request; one that no span explains is drawn in a guessed box, marked inferred
   (archviz.sequence.inference).
3. What each observation draws is archviz.sequence.labels' business.
`sequence()` knows every span before it folds (so an effect stored before the request that caused it still finds
it) and lays each box's arrows out together, in causal order; the live `Sequencer.add` draws as things arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archviz.sequence.collector import collector_paused
from archviz.sequence.commands import Command, finishes, outcome, title
from archviz.sequence.inference import Inference
from archviz.sequence.labels import arrows_for, wire_line
from archviz.sequence.model import (
    CLIENT,
    DAEMON,
    IMAGE_NOT_FOUND,
    REGISTRY,
    REPLY,
    REQUEST,
    RUNTIME,
    SELF,
    USER,
    Arrow,
    Delta,
    Diagram,
    Interaction,
    Message,
    Participant,
)
from archviz.sequence.names import normalize_reference, registry_host, repository_of
from archviz.sequence.rules import ANY, PULLED
from archviz.sequence.spans import ENDINGS, RECENT_NS, Span, SpanBook, client_of, span_id_of

# A long-lived client (a script using the SDK) makes many commands: a pause this long with nothing open ends one.
IDLE_NS = 5_000_000_000
# A live Sequencer runs as long as the server: past this many spans or boxes it forgets what ended this long ago.
REMEMBER = 4096
FORGET_AFTER_NS = 2 * RECENT_NS
_LAST = 1 << 62
_LAYERS = frozenset({"api-pull-layer", "api-push-layer", "action-pull-layer"})
# Sources whose observations no client command caused: drawn (if at all) outside any box. The watcher reports on its
# link to a daemon; Harbor's events are the audit's and draw nothing.
OUTSIDE_ANY_BOX = frozenset({"watcher", "harbor"})


class Sequencer:
    """Folds observations, in store order, into Messages and interactions."""

    def __init__(self, *, keep_order: bool = False) -> None:
        self.participants: dict[str, Participant] = {}
        self.interactions: dict[str, Interaction] = {}
        self.spans = SpanBook()
        self.inference = Inference(self.interactions)
        self._commands: dict[str, Command] = {}  # client -> its current command
        self._of_span: dict[str, Command] = {}
        self._position = 0
        # With keep_order, where each Message goes when the whole diagram is laid out (see `sequence`).
        self.keep_order = keep_order
        self.order: dict[str, tuple[int, int, int]] = {}
        self._effect_of: dict[str, str] = {}  # message id -> span id, for effects
        self._asked_at: dict[str, int] = {}  # span id -> position of its request
        self._remember = REMEMBER  # how many spans or boxes a live fold holds before it forgets (see `_forget`)
        self._participant_of: dict[tuple[object, ...], str] = {}
        self._daemons: list[Participant] = []  # the daemons among the participants (each seen by its own events)
        self._prepared = False
        self._owner_at: dict[int, Span | None] = {}  # the owner of each registry notification, by its position

    def prepare(self, observations: Iterable[dict[str, Any]]) -> None:
        """Learn every span of these observations before folding them, and which spans the registry spoke of."""
        heard = []
        for position, observation in enumerate(observations, self._position + 1):
            self.spans.note(observation)
            if observation["source"] == "registry":
                heard.append((position, observation))
        self._prepared = True
        for position, observation in heard:
            # Every span is known whole now: the fold finds the same owner, and need not look again.
            self._owner_at[position] = span = self.spans.owner(observation)
            if span is not None:
                span.heard_registry, span.registry = True, observation["host"]

    def add(self, observation: dict[str, Any]) -> Delta:
        delta = Delta()
        self._fold(observation, delta)
        if not self.keep_order and max(len(self._of_span), len(self.interactions)) > self._remember:
            self._forget(int(observation["time_ns"]) - FORGET_AFTER_NS)
            # A burst that is all still recent is kept whole; forgetting waits until it has doubled.
            self._remember = max(REMEMBER, 2 * max(len(self._of_span), len(self.interactions)))
        return delta

    def _fold(self, observation: dict[str, Any], delta: Delta) -> None:
        self._position += 1
        source, kind = observation["source"], observation["kind"]
        if source in OUTSIDE_ANY_BOX or kind == "daemon-other":
            self._draw(observation, arrows_for(observation), None, None, delta, inferred=True)
        elif source in ("tap", "action"):
            self._request(observation, delta)
        else:
            self._effect(observation, delta)

    def _forget(self, horizon_ns: int) -> None:
        """Keep a live fold's memory bounded: spans that ended, and commands quiet, before the horizon are done.
        (The whole diagram of `sequence` is bounded by its input, and lays out every box at the end.)"""
        self.spans.forget(horizon_ns)
        self._of_span = {i: command for i, command in self._of_span.items() if i in self.spans.spans}
        self._commands = {client: command for client, command in self._commands.items()
                          if command.open_spans or command.last_ns >= horizon_ns}
        kept = {c.interaction for c in (*self._commands.values(), *self._of_span.values())} | self.inference.boxes()
        for interaction in [i for i in self.interactions if i not in kept]:
            del self.interactions[interaction]

    # Requests and answers --------------------------------------------------------------------------------

    def _request(self, o: dict[str, Any], delta: Delta) -> None:
        # A prepared fold knows every span whole already (its answer, its end) before drawing its request.
        span = self.spans.spans.get(span_id_of(o)) if self._prepared else self.spans.note(o)
        command = self._command(o, span, delta)
        if span is not None and self.keep_order:
            self._asked_at.setdefault(span.id, self._position)
        attributes = o["attributes"]
        missing = str(attributes.get("error", ""))
        if (o["kind"] == "api-call" and attributes.get("path") == "/containers/create"
                and attributes.get("status") == 404 and missing.startswith("No such image: ")):
            command.missing = normalize_reference(missing.removeprefix("No such image: "))
        if attributes.get("command") and not command.run_command:
            command.run_command = str(attributes["command"])
        block = self._block(command, span)
        detail = wire_line(attributes) if o["kind"] in ("api-request", "api-call") else ""
        arrows = arrows_for(o)
        if span is not None and span.registry and o["kind"] in _LAYERS:
            # The registry's notifications draw its side of each layer; the progress keeps what the client is told.
            arrows = [a for a in arrows if REGISTRY not in (a.sender, a.receiver)]
        self._draw(o, arrows, self.interactions[command.interaction], block, delta, inferred=False,
                   detail=detail, registry=span.registry if span is not None else "")
        self._retitle(command, o, delta)
        if (span is not None and o["kind"] in ENDINGS and not (o["kind"] == "api-call" and attributes.get("streamed"))
                and o["source"] == "tap" and not command.closed and finishes(command, span)):
            command.closed = True
            self._message(o, Arrow(CLIENT, USER, REPLY, outcome(span)), "done", command, delta)

    def _command(self, o: dict[str, Any], span: Span | None, delta: Delta) -> Command:
        now = int(o["time_ns"])
        if span is not None and span.id in self._of_span:
            command = self._of_span[span.id]
        else:
            client = span.client if span is not None else client_of(o)
            command = self._commands.get(client)
            if command is None or (not command.open_spans and (now - command.last_ns > IDLE_NS or _begins(o))):
                command = self._new_command(client, o, delta)
            if span is not None:
                command.spans.append(span)
                self._of_span[span.id] = command
                command.closed = command.closed and not span.open
        command.last_ns = max(command.last_ns, now)
        delta.touch(self.interactions[command.interaction])
        return command

    def _new_command(self, client: str, o: dict[str, Any], delta: Delta) -> Command:
        attributes = o["attributes"]
        interaction = Interaction(f"i{o['id']}", "")
        if o["source"] == "action":
            interaction.title = f"pull {o['subject']} from the dashboard"
        self.interactions[interaction.id] = interaction
        program = str(attributes.get("process") or attributes.get("user_agent", "a client").split(" ", 1)[0])
        command = Command(client, interaction.id, f"{program} (process {attributes.get('pid') or '?'})")
        self._commands[client] = command
        if o["source"] == "tap":
            command.typed = True
            interaction.title = command.program
            self._message(o, self._typed(interaction), "user", command, delta)
        return command

    @staticmethod
    def _typed(interaction: Interaction) -> Arrow:
        return Arrow(USER, CLIENT, REQUEST, f"types `{interaction.title}`")

    def _retitle(self, command: Command, o: dict[str, Any], delta: Delta) -> None:
        interaction = self.interactions[command.interaction]
        facts = (len(command.spans), command.image, command.exec_command, command.missing, command.run_command)
        if not command.typed or facts == command.titled_from:
            return
        command.titled_from = facts
        new = title(command)
        if new != interaction.title:
            interaction.title = new
            delta.touch(interaction)
            # The User's first arrow says what was typed: send it again, with the same id, now that it is known.
            self._message(o, self._typed(interaction), "user", command, delta, replace=True)

    def _block(self, command: Command, span: Span | None) -> str | None:
        """The `alt` frame of a pull that a command needed because its image was missing."""
        if span is None or span.endpoint.subject != PULLED or not command.missing:
            return None
        if repository_of(span.subject) != repository_of(command.missing):
            return None
        block = f"b{span.id}"
        self.interactions[command.interaction].blocks[block] = IMAGE_NOT_FOUND
        return block

    # Effects ----------------------------------------------------------------------------------------------

    def _effect(self, o: dict[str, Any], delta: Delta) -> None:
        self.spans.learn(o)
        span = self._owner_at.pop(self._position) if self._position in self._owner_at else self.spans.owner(o)
        arrows = arrows_for(o)
        if span is None:
            interaction, block, heard = self.inference.place(o)
            if heard and o["source"] == "daemon":
                arrows = [a for a in arrows if REGISTRY not in (a.sender, a.receiver)]
            delta.touch(interaction)
            self._draw(o, arrows, interaction, block, delta, inferred=True)
            return
        command = self._of_span.get(span.id) or self._command_of_unasked(span, o, delta)
        if o["source"] == "registry":
            span.heard_registry, span.registry = True, o["host"]
        self._learn(command, o)
        block = self._block(command, span)
        if span.endpoint.subject == ANY and o["kind"] in ("image-pull", "registry-pull"):
            block = f"b{span.id}.pull"  # the base image a build had to pull
            self.interactions[command.interaction].blocks[block] = IMAGE_NOT_FOUND
        kept = [a for a in arrows if CLIENT not in (a.sender, a.receiver) and USER not in (a.sender, a.receiver)]
        if o["source"] == "daemon" and span.heard_registry:
            # The registry's own notifications, or the layers read off the progress, drew these arrows already.
            kept = [a for a in kept if REGISTRY not in (a.sender, a.receiver)]
        if not kept and o["source"] == "daemon":
            # The client's side is drawn from its requests; the daemon's event still says what it did.
            said = [a for a in arrows if CLIENT in (a.sender, a.receiver)]
            kept = [Arrow(DAEMON, DAEMON, SELF, said[-1].label)] if said else []
        interaction = self.interactions[command.interaction]
        delta.touch(interaction)
        first = len(delta.messages)
        self._draw(o, kept, interaction, block, delta, inferred=False, registry=span.registry)
        if self.keep_order:
            for message in delta.messages[first:]:
                self._effect_of[message.id] = span.id
        self._retitle(command, o, delta)

    def _command_of_unasked(self, span: Span, o: dict[str, Any], delta: Delta) -> Command:
        """The command of a span whose request is stored after this effect (only when every span is known first)."""
        asked = {"id": o["id"], "time_ns": span.started_ns, "source": "action" if span.id.startswith("action:")
                 else "tap", "host": span.host, "kind": "api-request", "subject": "", "correlation":
                 span.id.removeprefix("action:"), "attributes": {**span.attributes, "span": span.id}}
        return self._command(asked, span, delta)

    @staticmethod
    def _learn(command: Command, o: dict[str, Any]) -> None:
        if o["kind"] == "container-create" and not command.image:
            command.image = str(o["attributes"].get("image", ""))
        elif o["kind"] == "container-exec-create" and not command.exec_command:
            command.exec_command = str(o["attributes"].get("detail", ""))

    # Drawing ------------------------------------------------------------------------------------------------

    def _draw(self, o: dict[str, Any], arrows: list[Arrow], interaction: Interaction | None, block: str | None,
              delta: Delta, *, inferred: bool, detail: str = "", registry: str = "") -> None:
        """`registry`: the registry that answered the span these arrows belong to, if it was heard from."""
        if not arrows:
            return
        observation, time_ns = o["id"], int(o["time_ns"])
        interaction_id = interaction.id if interaction else None
        for index, arrow in enumerate(arrows):
            sender = self._participant(arrow.sender, o, delta, inferred, registry)
            receiver = self._participant(arrow.receiver, o, delta, inferred, registry)
            message = Message(f"{observation}.{index}", time_ns, sender, receiver, arrow.kind, arrow.label,
                              observation, interaction_id, block, inferred, detail)
            delta.messages.append(message)
            if self.keep_order:
                self.order[message.id] = (self._position, self._position, index)

    def _message(self, o: dict[str, Any], arrow: Arrow, suffix: str, command: Command, delta: Delta, *,
                 replace: bool = False) -> None:
        """An arrow of the User's, which belongs to a command rather than to one observation."""
        message_id = f"{command.interaction}.{suffix}" if suffix == "user" else f"{o['id']}.{suffix}"
        sender = self._side(arrow.sender, command, o, delta)
        receiver = self._side(arrow.receiver, command, o, delta)
        delta.messages.append(Message(
            message_id, int(o["time_ns"]), sender, receiver, arrow.kind, arrow.label,
            int(command.interaction[1:]) if suffix == "user" else o["id"], command.interaction, inferred=False,
        ))
        if self.keep_order and not replace:
            # The User types first and hears last, wherever the requests and effects in between go.
            self.order[message_id] = (-1, -1, 0) if suffix == "user" else (_LAST, self._position, 0)

    def laid_out(self, messages: Iterable[Message]) -> list[Message]:
        """The Messages of a whole diagram (folded with keep_order) in the order they are drawn: each box's arrows
        together, the User's first, each effect right after the request that caused it, each block in one piece."""
        messages = list(messages)
        order = self.order
        for message_id, span_id in self._effect_of.items():
            asked = self._asked_at.get(span_id)
            position, _, index = order[message_id]
            if asked is not None and asked > position:
                order[message_id] = (asked, _LAST, position * 16 + index)  # right after the request that caused it
        first_of: dict[str | None, int] = {}
        # A block (the pull a command needed) is laid out in one piece where it began, in the order things happened.
        block_at: dict[str, tuple[int, int, int]] = {}
        for message in messages:
            position = order[message.id]
            if message.interaction is not None and 0 <= position[0] < first_of.get(message.interaction, _LAST + 1):
                first_of[message.interaction] = position[0]
            if message.block is not None and position < block_at.get(message.block, (_LAST + 1,)):
                block_at[message.block] = position

        def place(message: Message) -> tuple[int, tuple[int, int, int], int, tuple[int, int, int]]:
            position = order[message.id]
            box = first_of.get(message.interaction, position[0])  # no box is keyed None
            if message.block is not None:
                return box, block_at[message.block], message.time_ns, position
            return box, position, 0, position

        return sorted(messages, key=place)

    def _side(self, role: str, command: Command, o: dict[str, Any], delta: Delta) -> str:
        """The User, or the client a command was typed into (whatever observation brought the arrow)."""
        if role == CLIENT and command.client:
            return command.client
        participant = self._participant(role, o, delta, False)
        if role == CLIENT:
            command.client = participant
        return participant

    def _participant(self, role: str, o: dict[str, Any], delta: Delta, inferred: bool, registry: str = "") -> str:
        if role == DAEMON and o["source"] == "registry":
            participant = self._daemon_seen_by_registry(o)
        elif role == REGISTRY and registry:
            # The registry the reference names (docker.io) is not always the one that answered (its mirror).
            participant = Participant(f"registry:{registry}", REGISTRY, f"Registry {registry}")
        else:
            attributes = o["attributes"]
            # Everything participant_for reads, so that each participant is worked out once.
            key = (role, o["source"], o["host"], inferred, attributes.get("user_agent"), attributes.get("user"),
                   attributes.get("peer"), o["subject"] if role == REGISTRY else "")
            known = self._participant_of.get(key)
            if known is not None:
                return known
            participant = participant_for(role, o, inferred)
            self._participant_of[key] = participant.id
        if participant.id not in self.participants:
            self.participants[participant.id] = participant
            delta.participants.append(participant)
            if participant.role == DAEMON and not participant.id.startswith("daemon:at "):
                self._daemons.append(participant)
        return participant.id

    def _daemon_seen_by_registry(self, o: dict[str, Any]) -> Participant:
        """A registry sees a daemon only by its address: when archviz watches exactly one daemon, it is that one."""
        if len(self._daemons) == 1:
            return self._daemons[0]
        client = o["attributes"].get("client", "") or "unknown"
        return Participant(f"daemon:at {client}", DAEMON, f"Daemon at {client}")


def _begins(o: dict[str, Any]) -> bool:
    """Whether a request begins a command, where no process tells commands apart (a TCP client): the docker CLI
    pings the daemon first, once per command."""
    attributes = o["attributes"]
    return bool(attributes.get("peer")) and not attributes.get("pid") and attributes.get("path") == "/_ping"


def participant_for(role: str, observation: dict[str, Any], inferred: bool = False) -> Participant:
    host, source, attributes = observation["host"], observation["source"], observation["attributes"]
    if role == USER:
        user = attributes.get("user", "") if source == "action" else ""
        return Participant(f"user:{user}", USER, f"User {user}".strip())
    if role == CLIENT and source == "action":
        return Participant("client:archviz", CLIENT, "Client archviz dashboard")
    if source == "registry" and role == REGISTRY:
        return Participant(f"registry:{host}", REGISTRY, f"Registry {host}")
    if role == DAEMON:
        return Participant(f"daemon:{host}", DAEMON, f"Daemon {host_label(host)}")
    if role == RUNTIME:
        return Participant(f"runtime:{host}", RUNTIME, "Runtime (containerd)")
    if role == REGISTRY:
        registry = registry_host(observation["subject"])
        return Participant(f"registry:{registry}", REGISTRY, f"Registry {registry}")
    agent = attributes.get("user_agent") if source in {"tap", "registry"} else None
    if not agent or (inferred and source != "registry"):
        # Nobody saw this client: the daemon's events say only that some client asked.
        return Participant("client:inferred", CLIENT, "Client (inferred)")
    if source == "tap" and attributes.get("peer"):
        # A client that reached the daemon over the network: not necessarily on the daemon's machine.
        peer = attributes["peer"]
        return Participant(f"client:{agent} from {peer}", CLIENT,
                           f"Client {agent.split(' ', 1)[0][:40]} (TCP from {peer})")
    return Participant(f"client:{agent}", CLIENT, f"Client {agent.split(' ', 1)[0][:40]}")


def host_label(host: str) -> str:
    """A short name for a daemon address: the socket's file name, or host:port."""
    if host.startswith("unix://"):
        return host.rsplit("/", 1)[-1]
    return host.split("://", 1)[-1]


class _Gathered(Delta):
    """What a whole fold draws, all in one Delta: which boxes each observation touched matters only live."""

    __slots__ = ()

    def touch(self, interaction: Interaction) -> None:
        pass


def sequence(observations: Iterable[dict[str, Any]]) -> Diagram:
    """The whole diagram of some observations (in store order): every span known first, and each box's arrows
    laid out together, the User's first, each effect right after the request that caused it."""
    with collector_paused():
        observations = list(observations)
        sequencer = Sequencer(keep_order=True)
        sequencer.prepare(observations)
        gathered = _Gathered()
        for observation in observations:
            sequencer._fold(observation, gathered)
        # A Message sent again with the same id (a box's title became known) replaces the one sent before.
        laid_out = sequencer.laid_out({message.id: message for message in gathered.messages}.values())
        interactions = {m.interaction: sequencer.interactions[m.interaction] for m in laid_out if m.interaction}
        return Diagram(list(sequencer.participants.values()), laid_out, interactions)
