"""The Harbor source: one webhook payload of Harbor (either HTTP format: "Default" or "CloudEvents") -> audit
events, or the payload kept raw.

Pure functions only. The shape follows Harbor's own source (src/pkg/notifier/model/event.go, the payload built
in src/controller/event/handler/webhook/): `{"type", "occur_at" (Unix seconds), "operator", "event_data":
{"resources": [{"digest", "tag", "resource_url"}], "repository": {"name", "namespace", "repo_full_name"}}}`.
Harbor retries a delivery answered other than 2xx, so, as for a registry, any JSON is answered 2xx: a payload
archviz cannot read, or of a type not in KINDS, is kept as an UnknownEvent, raw, with the reason.

The CloudEvents format (src/pkg/notifier/formats/cloudevents.go) wraps the same `event_data` as `data`, with
`type` renamed (CLOUD_EVENT_TYPES), `time` in RFC 3339, `operator` as an extension and an `id` (a UUID made once
per event, kept across Harbor's retries). The Default format sends no event id: there an event's id is the hash
of its payload, so a redelivered payload is stored once, and so are two payloads Harbor cannot tell apart (same
type, operator, artifact and second).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from archviz.sources.registry import (
    DIGEST,
    LATEST_NS,
    REPOSITORY,
    Delivery,
    RegistryEvent,
    Unreadable,
    is_digest,
    object_field,
    read_json,
    rfc3339_ns,
    text_field,
    unknown,
)

SOURCE = "harbor"

# Harbor's event type -> (audit action, what it is about). Artifacts are manifests (an image or an index).
KINDS: dict[str, tuple[str, str]] = {
    "PUSH_ARTIFACT": ("push", "manifest"),
    "PULL_ARTIFACT": ("pull", "manifest"),
    "DELETE_ARTIFACT": ("delete", "manifest"),
    "SCANNING_COMPLETED": ("scan", "manifest"),
    "SCANNING_FAILED": ("scan-failed", "manifest"),
    "SCANNING_STOPPED": ("scan-stopped", "manifest"),
    "QUOTA_EXCEED": ("quota-exceed", "repository"),
    "QUOTA_WARNING": ("quota-warning", "repository"),
    "REPLICATION": ("replication", "repository"),
    "TAG_RETENTION": ("retention", "repository"),
}
# The CloudEvents format's type for each of Harbor's event types (cloudevents.go's eventTypeMapping).
CLOUD_EVENT_TYPES: dict[str, str] = {
    "harbor.artifact.pushed": "PUSH_ARTIFACT",
    "harbor.artifact.pulled": "PULL_ARTIFACT",
    "harbor.artifact.deleted": "DELETE_ARTIFACT",
    "harbor.scan.completed": "SCANNING_COMPLETED",
    "harbor.scan.failed": "SCANNING_FAILED",
    "harbor.scan.stopped": "SCANNING_STOPPED",
    "harbor.quota.exceeded": "QUOTA_EXCEED",
    "harbor.quota.warned": "QUOTA_WARNING",
    "harbor.replication.status.changed": "REPLICATION",
    "harbor.tag_retention.finished": "TAG_RETENTION",
}
ACTIONS = tuple(dict.fromkeys(action for action, _ in KINDS.values()))
# Types that name no repository (their event_data holds a replication or retention record instead).
WITHOUT_REPOSITORY = ("REPLICATION", "TAG_RETENTION")
MAX_RESOURCES = 100


def read_payload(body: bytes) -> Delivery:
    """Read a POSTed body. Raises DeliveryError only for a body that is too large or not JSON."""
    payload = read_json(body)
    try:
        return Delivery(read_events(payload), ())
    except Unreadable as error:
        return Delivery((), (unknown(payload, str(error), SOURCE),))


def read_events(raw: object) -> tuple[RegistryEvent, ...]:
    """The audit events of one payload (one per resource it names), or Unreadable naming what is wrong."""
    payload = object_field(raw, "payload", required=True)
    if "specversion" in payload:
        kind, time_ns, data, identity = _cloud_event(payload)
    else:
        kind = text_field(payload, "type", "", required=True, limit=64)
        occur_at = payload.get("occur_at")
        if isinstance(occur_at, bool) or not isinstance(occur_at, int) or not 0 <= occur_at * 10**9 <= LATEST_NS:
            raise Unreadable("occur_at is not a Unix time in seconds (1970-2262)")
        time_ns = occur_at * 10**9
        data = object_field(payload.get("event_data"), "event_data", required=True)
        identity = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=True).encode()).hexdigest()
    if kind not in KINDS:
        raise Unreadable(f"type {kind[:40]!r} is not one of {', '.join(KINDS)}")
    action, target_kind = KINDS[kind]
    repository = object_field(data.get("repository"), "event_data.repository",
                              required=kind not in WITHOUT_REPOSITORY)
    full_name = text_field(repository, "repo_full_name", "event_data.repository",
                           required=kind not in WITHOUT_REPOSITORY, limit=255, pattern=REPOSITORY)
    resources = data.get("resources") or []
    if not isinstance(resources, list) or len(resources) > MAX_RESOURCES:
        raise Unreadable(f"event_data.resources is not a list of at most {MAX_RESOURCES} resources")
    common: dict[str, Any] = {
        "time_ns": time_ns, "action": action, "repository": full_name, "media_type": "", "size": None,
        "from_repository": "", "request_addr": "", "request_method": "", "request_useragent": "",
        "actor": text_field(payload, "operator", "", limit=255), "source_addr": "", "source_instance": "",
        "source": SOURCE,
    }
    if not resources:
        return (RegistryEvent(event_id=f"harbor:{identity}", tag="", digest="", target_kind="repository",
                              request_host="", **common),)
    events = []
    for index, raw_resource in enumerate(resources):
        where = f"event_data.resources[{index}]"
        resource = object_field(raw_resource, where, required=True)
        digest = text_field(resource, "digest", where, limit=300, pattern=DIGEST)
        tag = text_field(resource, "tag", where, limit=300)
        # With no tag, Harbor names the artifact by its digest in `tag`.
        tag = "" if is_digest(tag) else text_field(resource, "tag", where, limit=128)
        url = text_field(resource, "resource_url", where, limit=4096)
        events.append(RegistryEvent(
            event_id=f"harbor:{identity}" + (f"/{index}" if len(resources) > 1 else ""),
            tag=tag, digest=digest, target_kind=target_kind if (tag or digest) else "repository",
            request_host=url.split("/", 1)[0][:255] if "/" in url else "", **common))
    return tuple(events)


def _cloud_event(payload: dict[str, Any]) -> tuple[str, int, dict[str, Any], str]:
    """A CloudEvents payload's Harbor event type, time, event data and id."""
    cloud_type = text_field(payload, "type", "", required=True, limit=64)
    if cloud_type not in CLOUD_EVENT_TYPES:
        raise Unreadable(f"type {cloud_type[:40]!r} is not one of {', '.join(CLOUD_EVENT_TYPES)}")
    event_id = text_field(payload, "id", "", required=True, limit=200)
    data = object_field(payload.get("data"), "data", required=True)
    return CLOUD_EVENT_TYPES[cloud_type], rfc3339_ns(payload.get("time")), data, event_id
