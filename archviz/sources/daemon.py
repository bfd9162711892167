"""The daemon source: one event of the Docker daemon's /events stream -> one Observation.

Pure functions only; the watcher (archviz.watcher) does the streaming and reconnecting.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from archviz.kinds import DAEMON_KINDS, DAEMON_OTHER
from archviz.observation import Observation, Source
from archviz.secrets import mask_command

# The daemon appends details to some actions: "exec_create: sh -c date", "health_status: healthy".
_ACTION_DETAIL = re.compile(r"^(?P<action>[a-z_]+)(?::\s*(?P<detail>.*))?$", re.DOTALL)


class MalformedEvent(ValueError):
    """An event that lacks what every daemon event has (a type, an action, a timeNano)."""


def observation_from_event(event: object, host: str) -> Observation:
    """Map one decoded daemon event to an Observation, or raise MalformedEvent saying what is wrong."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"an event must be a JSON object, not {type(event).__name__}")
    object_type = event.get("Type")
    raw_action = event.get("Action")
    time_ns = event.get("timeNano")
    actor = event.get("Actor") or {}
    if not isinstance(object_type, str) or not object_type:
        raise MalformedEvent("the event has no Type")
    if not isinstance(raw_action, str) or not raw_action:
        raise MalformedEvent("the event has no Action")
    if isinstance(time_ns, bool) or not isinstance(time_ns, int) or time_ns <= 0:
        raise MalformedEvent("the event has no positive integer timeNano")
    if not isinstance(actor, dict):
        raise MalformedEvent("the event's Actor is not an object")
    actor_id = actor.get("ID") if isinstance(actor.get("ID"), str) else ""
    labels = actor.get("Attributes") if isinstance(actor.get("Attributes"), dict) else {}
    # An action can carry a command line (exec_create: sh -c mysql -psecret): only its masked text is kept, shown
    # or hashed into the key (a short hash of a weak password is quickly reversed). Without a secret it is the
    # raw action, so keys stay what they were.
    masked_action = mask_command(raw_action)

    match = _ACTION_DETAIL.match(masked_action)
    action = match["action"].replace("_", "-") if match else ""
    kind = f"{object_type}-{action}"
    attributes: dict[str, Any] = {str(name): str(value) for name, value in labels.items()}
    attributes["id"] = actor_id
    if match and match["detail"]:
        attributes["detail"] = match["detail"]
    if kind not in DAEMON_KINDS:
        attributes.update(type=object_type, action=masked_action)
        kind = DAEMON_OTHER
    return Observation(
        time_ns=time_ns,
        source=Source.DAEMON,
        host=host,
        kind=kind,
        subject=_subject(object_type, actor_id, attributes),
        attributes=attributes,
        correlation=actor_id,
        key=event_key(host, time_ns, object_type, masked_action, actor_id),
    )


def event_key(host: str, time_ns: int, object_type: str, action: str, actor_id: str) -> str:
    """Identity of a daemon event. Resuming with `since` replays the last event; this key stores it once."""
    text = "\x1f".join(("daemon", host, str(time_ns), object_type, action, actor_id))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _subject(object_type: str, actor_id: str, attributes: dict[str, Any]) -> str:
    # Containers and networks are known by name; images by reference (a tag names the new reference,
    # while its ID is the image digest); volumes by their name, which is their ID.
    name = attributes.get("name", "")
    if object_type in {"container", "network", "plugin", "service", "node", "secret", "config"}:
        return name or actor_id[:12]
    if object_type == "image" and actor_id.startswith("sha256:") and name and not name.startswith("sha256:"):
        return name
    return actor_id


def since_parameter(time_ns: int) -> str:
    """The `since` value that makes the daemon replay from this event on (inclusive): seconds.nanoseconds."""
    seconds, nanoseconds = divmod(time_ns, 1_000_000_000)
    return f"{seconds}.{nanoseconds:09d}"
