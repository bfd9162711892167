"""The registry source: a notification envelope of the Docker registry (distribution) -> audit events and
Observations.

Pure functions only. Every field is checked; anything archviz cannot use raises EnvelopeError with the
HTTP status to answer and a message naming the field, so the registry's operator can see what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from archviz.observation import Observation, Source

EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
ACTIONS = ("push", "pull", "mount", "delete")
MAX_BODY = 1024 * 1024
MAX_EVENTS = 1000

# Distribution's own grammar, in short: lowercase path components, tags, and algorithm:hex digests.
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,256}")
_METHOD = re.compile(r"[A-Z]{1,16}")
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})"
)


class EnvelopeError(ValueError):
    """An envelope archviz refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One event of a notification envelope, checked. `target_kind` is manifest, blob or tag."""

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

    @property
    def existence_check(self) -> bool:
        """A HEAD asks whether something exists; it downloads nothing."""
        return self.request_method == "HEAD"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_envelope(body: bytes, content_type: str) -> list[RegistryEvent]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != EVENTS_MEDIA_TYPE:
        raise EnvelopeError(f"media type {media_type or '(none)'!r} is not {EVENTS_MEDIA_TYPE}", status=415)
    if len(body) > MAX_BODY:
        raise EnvelopeError(f"body of {len(body)} bytes is over the {MAX_BODY}-byte limit", status=413)
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise EnvelopeError("body is not JSON", status=400) from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("events"), list):
        raise EnvelopeError('body must be an object with an "events" list')
    events = envelope["events"]
    if len(events) > MAX_EVENTS:
        raise EnvelopeError(f"{len(events)} events in one envelope, at most {MAX_EVENTS}", status=413)
    parsed = [_event(event, f"events[{index}]") for index, event in enumerate(events)]
    if len({event.event_id for event in parsed}) != len(parsed):
        raise EnvelopeError("the envelope holds the same event id twice")
    return parsed


def _event(raw: object, path: str) -> RegistryEvent:
    event = _object(raw, path, required=True)
    action = _text(event, "action", path, required=True, limit=16)
    if action not in ACTIONS:
        raise EnvelopeError(f"{path}.action {action[:20]!r} is unknown: expected push, pull, mount or delete")
    target = _object(event.get("target"), f"{path}.target", required=True)
    request = _object(event.get("request"), f"{path}.request")
    actor = _object(event.get("actor"), f"{path}.actor")
    source = _object(event.get("source"), f"{path}.source")
    repository = _text(target, "repository", f"{path}.target", required=True, limit=255, pattern=_REPOSITORY)
    tag = _text(target, "tag", f"{path}.target", pattern=_TAG)
    digest = _text(target, "digest", f"{path}.target", limit=300, pattern=_DIGEST)
    if not tag and not digest:
        raise EnvelopeError(f"{path}.target names neither a tag nor a digest")
    media_type = _text(target, "mediaType", f"{path}.target", limit=255)
    url = _text(target, "url", f"{path}.target", limit=4096)
    method = _text(request, "method", f"{path}.request", limit=16, pattern=_METHOD)
    addr = _text(request, "addr", f"{path}.request", limit=255)
    return RegistryEvent(
        event_id=_text(event, "id", path, required=True, limit=255),
        time_ns=_timestamp(event.get("timestamp"), f"{path}.timestamp"),
        action=action,
        repository=repository,
        tag=tag,
        digest=digest,
        media_type=media_type,
        target_kind=_target_kind(action, media_type, url, tag, digest),
        size=_size(target, f"{path}.target"),
        from_repository=_text(target, "fromRepository", f"{path}.target", limit=255, pattern=_REPOSITORY),
        request_addr=client_address(addr),
        request_method=method,
        request_useragent=_text(request, "useragent", f"{path}.request", limit=1024),
        request_host=_text(request, "host", f"{path}.request", limit=255),
        actor=_text(actor, "name", f"{path}.actor", limit=255),
        source_addr=_text(source, "addr", f"{path}.source", limit=255),
        source_instance=_text(source, "instanceID", f"{path}.source", limit=255),
    )


def _object(value: object, path: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise EnvelopeError(f"{path} is {'missing' if value is None else 'not an object'}")
    return value


def _text(container: dict[str, Any], name: str, path: str, *, required: bool = False, limit: int = 128,
          pattern: re.Pattern[str] | None = None) -> str:
    value = container.get(name)
    if value is None or value == "":
        if required:
            raise EnvelopeError(f"{path}.{name} is missing")
        return ""
    if not isinstance(value, str):
        raise EnvelopeError(f"{path}.{name} must be a string")
    if len(value) > limit:
        raise EnvelopeError(f"{path}.{name} is longer than {limit} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise EnvelopeError(f"{path}.{name} {value[:80]!r} is not a valid {name}")
    return value


def _size(target: dict[str, Any], path: str) -> int | None:
    value = target.get("size", target.get("length"))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise EnvelopeError(f"{path}.size must be a non-negative integer")
    return value


def _timestamp(value: object, path: str) -> int:
    if not isinstance(value, str):
        raise EnvelopeError(f"{path} is {'missing' if value is None else 'not a string'}")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise EnvelopeError(f"{path} {value[:40]!r} is not an RFC 3339 time")
    zone = "+00:00" if match["zone"] in "Zz" else match["zone"]
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}{zone}")
    except ValueError:
        raise EnvelopeError(f"{path} {value[:40]!r} is not a real time") from None
    seconds = int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    return seconds * 1_000_000_000 + int((match["fraction"] or "0").ljust(9, "0"))


def _target_kind(action: str, media_type: str, url: str, tag: str, digest: str) -> str:
    if "/blobs/" in url or media_type in {"application/octet-stream"} or "layer" in media_type:
        return "blob"
    if action == "mount":
        return "blob"
    if action == "delete" and tag and not digest:
        return "tag"
    return "manifest"


def client_address(addr: str) -> str:
    """The client's address without its port: `127.0.0.1:51054` -> `127.0.0.1`, `[::1]:80` -> `::1`."""
    if addr.startswith("["):
        return addr[1:].split("]", 1)[0]
    host, separator, port = addr.rpartition(":")
    return host if separator and port.isdigit() and ":" not in host else addr


def observation_from_event(event: RegistryEvent) -> Observation:
    subject = f"{event.repository}:{event.tag}" if event.tag else f"{event.repository}@{event.digest}"
    return Observation(
        time_ns=event.time_ns,
        source=Source.REGISTRY,
        host=event.request_host or event.source_addr,
        kind=f"registry-{event.action}",
        subject=subject,
        attributes={
            "repository": event.repository, "tag": event.tag, "digest": event.digest,
            "media_type": event.media_type, "target": event.target_kind, "size": event.size,
            "from_repository": event.from_repository, "method": event.request_method,
            "user_agent": event.request_useragent, "client": event.request_addr, "actor": event.actor,
        },
        correlation=event.repository,
        key=hashlib.sha256(f"registry\x1f{event.event_id}".encode()).hexdigest()[:40],
    )
