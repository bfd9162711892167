"""The registry source: a notification delivery of a Docker registry (distribution 2.x or 3.x) -> audit events,
events of unknown shape, and Observations.

Pure functions only. What must stay true: a registry retries a refused delivery forever, in order, so refusing
one well-formed event stops its whole audit feed. Hence only a body that is not JSON (or is too large) is
refused; any JSON is read event by event, and an event archviz cannot read is kept as an UnknownEvent, raw,
with the reason, instead of refusing the delivery. The shapes follow distribution's own source
(notifications/event.go and bridge.go): 2.x posts envelopes of `events.v1+json`, 3.x one event per envelope of
`events.v2+json`, with `target.references` on manifest events, and tag and repository deletes that carry no
digest (as empty strings: the descriptor's fields have no `omitempty`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from archviz.observation import Observation, Source

# The media types registries send (the body decides; the header is only recorded): distribution 2.x, 3.x, and
# plain JSON from anything else that speaks the same envelope.
MEDIA_TYPES = ("application/vnd.docker.distribution.events.v1+json",
               "application/vnd.docker.distribution.events.v2+json", "application/json")
ACTIONS = ("push", "pull", "mount", "delete")
TARGET_KINDS = ("manifest", "blob", "tag", "repository")
MAX_BODY = 1024 * 1024
MAX_EVENTS = 1000
MAX_REFERENCES = 1000
LATEST_NS = 2**63 - 1  # what a signed 64-bit column holds: 2262-04-11

# Distribution's own grammar, in short: lowercase path components, tags, and algorithm:hex digests.
REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,256}")
_METHOD = re.compile(r"[A-Z]{1,16}")
# Control characters and lone surrogates: no database column takes them all (PostgreSQL refuses NUL, and a lone
# surrogate is not UTF-8), and no registry sends them in a field archviz keeps.
UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DeliveryError(ValueError):
    """A delivery archviz refuses as a whole; `cause` names why (see archviz.hooks.REFUSALS)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


class Unreadable(ValueError):
    """An event archviz cannot read; the message names the field and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A descriptor a manifest references (its config, a layer, a manifest of an index), as the registry listed it."""

    digest: str
    media_type: str
    size: int | None


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One event of a notification envelope, checked. `target_kind` is one of TARGET_KINDS."""

    event_id: str
    time_ns: int
    action: str
    repository: str
    tag: str
    digest: str
    media_type: str
    target_kind: str
    size: int | None
    from_repository: str
    request_addr: str
    request_method: str
    request_useragent: str
    request_host: str
    actor: str
    source_addr: str
    source_instance: str
    references: tuple[Reference, ...] = field(default=())
    source: str = "registry"  # who sent it: "registry" (distribution) or "harbor" (archviz.sources.harbor)

    @property
    def existence_check(self) -> bool:
        """A HEAD asks whether something exists; it downloads nothing."""
        return self.request_method == "HEAD"


# The audit row's columns: every field but the references, which are kept per manifest digest.
COLUMNS = tuple(f.name for f in fields(RegistryEvent) if f.name != "references")
SOURCES = ("registry", "harbor")


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """Something a registry sent that archviz cannot read, kept as it came. `key` makes a redelivery count once:
    it is the event's id when it has a usable one, else its JSON."""

    key: str
    event_id: str
    reason: str
    raw: str
    source: str = "registry"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one POST brought: the events archviz can read, and the ones it keeps raw."""

    events: tuple[RegistryEvent, ...]
    unknown: tuple[UnknownEvent, ...]


def read_json(body: bytes) -> object:
    """A POSTed body's JSON, or DeliveryError when it is too large or not JSON (the only bodies a webhook refuses)."""
    if len(body) > MAX_BODY:
        raise DeliveryError(f"body of {len(body)} bytes is over the {MAX_BODY}-byte limit", "too-large")
    try:
        return json.loads(body, parse_constant=_not_json)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        raise DeliveryError("body is not JSON", "not-json") from None


def read_delivery(body: bytes) -> Delivery:
    """Read a POSTed body. Raises DeliveryError only for a body that is too large or not JSON."""
    envelope = read_json(body)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("events"), list):
        return Delivery((), (unknown(envelope, 'not an envelope: expected an object with an "events" list'),))
    if len(envelope["events"]) > MAX_EVENTS:
        raise DeliveryError(f"{len(envelope['events'])} events in one envelope, at most {MAX_EVENTS}", "too-large")
    events: list[RegistryEvent] = []
    unknowns: list[UnknownEvent] = []
    for raw in envelope["events"]:
        try:
            events.append(read_event(raw))
        except Unreadable as error:
            unknowns.append(unknown(raw, str(error)))
    return Delivery(tuple(events), tuple(unknowns))


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def unknown(raw: object, reason: str, source: str = "registry") -> UnknownEvent:
    # ASCII JSON: whatever the registry sent (lone surrogates, NUL) stays storable and shown as it came.
    text = json.dumps(raw, ensure_ascii=True)
    event_id = raw.get("id") if isinstance(raw, dict) else None
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 255 and not UNSTORABLE.search(event_id)):
        event_id = ""
    identity = f"id\x1f{event_id}" if event_id else f"json\x1f{json.dumps(raw, ensure_ascii=True, sort_keys=True)}"
    return UnknownEvent(key=hashlib.sha256(identity.encode()).hexdigest(), event_id=event_id,
                        reason=reason[:255], raw=text, source=source)


def read_event(raw: object) -> RegistryEvent:
    """One event of an envelope, or Unreadable naming what archviz cannot read in it."""
    event = object_field(raw, "event", required=True)
    action = text_field(event, "action", "", required=True, limit=16)
    if action not in ACTIONS:
        raise Unreadable(f"action {action[:20]!r} is not one of {', '.join(ACTIONS)}")
    target = object_field(event.get("target"), "target", required=True)
    request = object_field(event.get("request"), "request")
    actor = object_field(event.get("actor"), "actor")
    source = object_field(event.get("source"), "source")
    repository = text_field(target, "repository", "target", required=True, limit=255, pattern=REPOSITORY)
    tag = text_field(target, "tag", "target", pattern=_TAG)
    digest = text_field(target, "digest", "target", limit=300, pattern=DIGEST)
    if not tag and not digest and action != "delete":
        raise Unreadable(f"target names neither a tag nor a digest, and a {action} needs one")
    media_type = text_field(target, "mediaType", "target", limit=255)
    url = text_field(target, "url", "target", limit=4096)
    method = text_field(request, "method", "request", limit=16, pattern=_METHOD)
    addr = text_field(request, "addr", "request", limit=255)
    return RegistryEvent(
        event_id=text_field(event, "id", "", required=True, limit=255),
        time_ns=rfc3339_ns(event.get("timestamp")),
        action=action,
        repository=repository,
        tag=tag,
        digest=digest,
        media_type=media_type,
        target_kind=_target_kind(action, media_type, url, tag, digest),
        # A delete names no content: its descriptor's size is a placeholder 0.
        size=_size(target.get("size", target.get("length")), "target.size") if action != "delete" else None,
        from_repository=text_field(target, "fromRepository", "target", limit=255, pattern=REPOSITORY),
        request_addr=client_address(addr),
        request_method=method,
        request_useragent=text_field(request, "useragent", "request", limit=1024),
        request_host=text_field(request, "host", "request", limit=255),
        actor=text_field(actor, "name", "actor", limit=255),
        source_addr=text_field(source, "addr", "source", limit=255),
        source_instance=text_field(source, "instanceID", "source", limit=255),
        references=_references(target.get("references")),
    )


def object_field(value: object, path: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise Unreadable(f"{path} is {'missing' if value is None else 'not an object'}")
    return value


def text_field(container: dict[str, Any], name: str, path: str, *, required: bool = False, limit: int = 128,
          pattern: re.Pattern[str] | None = None) -> str:
    where = f"{path}.{name}" if path else name
    value = container.get(name)
    if value is None or value == "":
        if required:
            raise Unreadable(f"{where} is missing")
        return ""
    if not isinstance(value, str):
        raise Unreadable(f"{where} is not a string")
    if len(value) > limit:
        raise Unreadable(f"{where} is longer than {limit} characters")
    if UNSTORABLE.search(value):
        raise Unreadable(f"{where} holds control characters or lone surrogates")
    if pattern is not None and not pattern.fullmatch(value):
        raise Unreadable(f"{where} {value[:80]!r} is not a valid {name}")
    return value


def _size(value: object, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise Unreadable(f"{path} is not a non-negative integer")
    return value


def _references(value: object) -> tuple[Reference, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_REFERENCES:
        raise Unreadable(f"target.references is not a list of at most {MAX_REFERENCES} descriptors")
    references = []
    for index, raw in enumerate(value):
        path = f"target.references[{index}]"
        descriptor = object_field(raw, path, required=True)
        references.append(Reference(
            digest=text_field(descriptor, "digest", path, required=True, limit=300, pattern=DIGEST),
            media_type=text_field(descriptor, "mediaType", path, limit=255),
            size=_size(descriptor.get("size"), f"{path}.size"),
        ))
    return tuple(references)


def rfc3339_ns(value: object) -> int:
    if not isinstance(value, str):
        raise Unreadable(f"timestamp is {'missing' if value is None else 'not a string'}")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise Unreadable(f"timestamp {value[:40]!r} is not an RFC 3339 time")
    zone = "+00:00" if match["zone"] in "Zz" else match["zone"]
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}{zone}")
    except ValueError:
        raise Unreadable(f"timestamp {value[:40]!r} is not a real time") from None
    seconds = int((moment - _EPOCH).total_seconds())
    time_ns = seconds * 1_000_000_000 + int((match["fraction"] or "0").ljust(9, "0"))
    if not 0 <= time_ns <= LATEST_NS:
        raise Unreadable(f"timestamp {value[:40]!r} is outside 1970-2262")
    return time_ns


def _target_kind(action: str, media_type: str, url: str, tag: str, digest: str) -> str:
    if not tag and not digest:
        return "repository"
    if "/blobs/" in url or media_type == "application/octet-stream" or "layer" in media_type or action == "mount":
        return "blob"
    if action == "delete" and not digest:
        return "tag"
    # A delete by digest names a manifest; distribution sends a blob's delete the same way (no URL, no media
    # type), so one cannot be told from the other.
    return "manifest"


def is_digest(value: str) -> bool:
    return DIGEST.fullmatch(value) is not None


def client_address(addr: str) -> str:
    """The client's address without its port: `127.0.0.1:51054` -> `127.0.0.1`, `[::1]:80` -> `::1`."""
    if addr.startswith("["):
        return addr[1:].split("]", 1)[0]
    host, separator, port = addr.rpartition(":")
    return host if separator and port.isdigit() and ":" not in host else addr


def subject_of(event: RegistryEvent) -> str:
    """`repo:tag`, `repo@digest`, or the repository alone (a repository delete)."""
    if event.tag:
        return f"{event.repository}:{event.tag}"
    return f"{event.repository}@{event.digest}" if event.digest else event.repository


def observation_from_event(event: RegistryEvent) -> Observation:
    """The Observation of an audit event, a registry's or Harbor's (the event's source is the Observation's, and its
    kind is `<source>-<action>`)."""
    return Observation(
        time_ns=event.time_ns,
        source=Source(event.source),
        host=event.request_host or event.source_addr,
        kind=f"{event.source}-{event.action}",
        subject=subject_of(event),
        attributes={
            "repository": event.repository, "tag": event.tag, "digest": event.digest,
            "media_type": event.media_type, "target": event.target_kind, "size": event.size,
            "from_repository": event.from_repository, "method": event.request_method,
            "user_agent": event.request_useragent, "client": event.request_addr, "actor": event.actor,
            # The audit row it came with (the audit page's live tail looks it up by this id).
            "event": event.event_id,
        },
        correlation=event.repository,
        key=hashlib.sha256(f"{event.source}\x1f{event.event_id}".encode()).hexdigest()[:40],
    )
