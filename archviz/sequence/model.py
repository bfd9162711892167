"""The diagram's vocabulary: participants (lifelines), Messages (arrows and notes), interactions (one client
command each, drawn as a box) and the Delta a batch of observations adds. Wire names are the field names."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Message kinds.
REQUEST, REPLY, SELF, NOTE = "request", "reply", "self", "note"
# Roles: the parties, in the order the legend and the filters list them.
USER, CLIENT, DAEMON, RUNTIME, REGISTRY = "user", "client", "daemon", "runtime", "registry"
ROLES = (USER, CLIENT, DAEMON, RUNTIME, REGISTRY)
# The label of the `alt` frame around a pull that a command needed because the image was missing.
IMAGE_NOT_FOUND = "image not found locally"
# Said in the title of a box that was read off daemon events alone: no client's request was seen.
INFERRED = "(inferred)"


@dataclass(frozen=True, slots=True)
class Participant:
    """A lifeline. Roles: user, client, daemon, runtime, registry."""

    id: str
    role: str
    label: str


@dataclass(slots=True)  # not frozen: a frozen dataclass is built four times slower, and a diagram has many
class Message:
    """One arrow (or note) of the diagram. `id` is stable: the observation's id and the arrow's place; a Message
    sent again with the same id replaces the one sent before (a command's title became known, say).
    `detail` is what was on the wire (`POST /containers/create → 201`), shown on selection."""

    id: str
    time_ns: int
    sender: str
    receiver: str
    kind: str
    label: str
    observation: int
    interaction: str | None
    block: str | None = None
    # True when the arrow is read off a daemon event or a registry notification that no tapped request explains.
    inferred: bool = True
    detail: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "time_ns": str(self.time_ns), "sender": self.sender, "receiver": self.receiver,
                "kind": self.kind, "label": self.label, "observation": self.observation,
                "interaction": self.interaction, "block": self.block, "inferred": self.inferred,
                "detail": self.detail}


@dataclass(slots=True)
class Interaction:
    """The Messages of one client command, drawn as a box with a title. `blocks` maps the id of a block of its
    Messages to the label of the `alt` frame drawn around them (IMAGE_NOT_FOUND for a pull that a command needed).
    `inferred`: no request of it was seen, only what the daemon (or a registry) reported."""

    id: str
    title: str
    blocks: dict[str, str] = field(default_factory=dict)
    inferred: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "blocks": dict(self.blocks), "inferred": self.inferred}


@dataclass(slots=True)
class Delta:
    """What some observations add to a diagram: new participants, new (or replaced) Messages, and the
    interactions they touched."""

    participants: list[Participant] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)

    def touch(self, interaction: Interaction) -> None:
        for known in self.interactions:
            if known is interaction:
                return
        self.interactions.append(interaction)

    def to_wire(self) -> dict[str, Any]:
        return {
            "participants": [asdict(p) for p in self.participants],
            "messages": [m.to_wire() for m in self.messages],
            "interactions": [i.to_wire() for i in self.interactions],
        }


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


@dataclass(slots=True)  # not frozen, as Message: every observation draws one or more
class Arrow:
    """What a label rule returns: an arrow between roles, before participants and ids are assigned."""

    sender: str
    receiver: str
    kind: str
    label: str
