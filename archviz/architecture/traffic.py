"""Which part of the map a Message lights: the sequence mapping says who sent it to whom (participants with
roles); this table says which edge of the block picture that crosses, and in which direction. Pure.

A Message between two parties the table joins lights their edge; any other (a participant acting on its own, a
note, the User typing into a client or hearing back from it) lights the one box it concerns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from archviz.sequence.model import CLIENT, DAEMON, REGISTRY, RUNTIME, USER, Message

CLIENT_DAEMON, DAEMON_REGISTRY, DAEMON_RUNTIME, CLIENT_REGISTRY = (
    "client-daemon", "daemon-registry", "daemon-runtime", "client-registry")
# (sender's role, receiver's role) -> (the edge, whether the Message goes the edge's own way: left to right,
# or the daemon down to its runtime).
EDGES: dict[tuple[str, str], tuple[str, bool]] = {
    (CLIENT, DAEMON): (CLIENT_DAEMON, True), (DAEMON, CLIENT): (CLIENT_DAEMON, False),
    (DAEMON, REGISTRY): (DAEMON_REGISTRY, True), (REGISTRY, DAEMON): (DAEMON_REGISTRY, False),
    (DAEMON, RUNTIME): (DAEMON_RUNTIME, True), (RUNTIME, DAEMON): (DAEMON_RUNTIME, False),
    (CLIENT, REGISTRY): (CLIENT_REGISTRY, True), (REGISTRY, CLIENT): (CLIENT_REGISTRY, False),
}


def edge_id(start: str, end: str) -> str:
    """The id of the edge between two boxes (participant ids), named from its start: client, then daemon."""
    return f"{start}|{end}"


def traffic(messages: Iterable[Message], roles: Mapping[str, str]) -> list[dict[str, Any]]:
    """What each Message lights, in order: `{"message", "edge" or None, "box" or None, "kind" (the edge's, or
    "box"), "forward", "label", "sender_role", "receiver_role"}`. `roles` maps participant ids to roles."""
    lit = []
    for message in messages:
        sender, receiver = roles.get(message.sender, ""), roles.get(message.receiver, "")
        entry: dict[str, Any] = {"message": message.id, "label": message.label, "sender_role": sender,
                                 "receiver_role": receiver}
        rule = EDGES.get((sender, receiver)) if message.sender != message.receiver else None
        if rule is not None:
            kind, forward = rule
            start, end = (message.sender, message.receiver) if forward else (message.receiver, message.sender)
            entry |= {"edge": edge_id(start, end), "box": None, "kind": kind, "forward": forward}
        else:
            box = message.receiver if sender == USER else message.sender
            entry |= {"edge": None, "box": box, "kind": "box", "forward": True}
        lit.append(entry)
    return lit
