"""Hostile input for the webhooks' property tests: values of every JSON type, strings a database or a
spreadsheet chokes on, and documents with some of their fields replaced by such values; and the check both
webhooks' property tests make of what a hostile body left behind."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from hypothesis import strategies as st

from archviz.models import AuditEvent, StoredObservation, UnknownEvent

HOSTILE_TEXT = st.sampled_from(["", "\x00", "\ud800", "a\udfffb", "x" * 5000, "../../etc/passwd", "Lab/App",
                                "=HYPERLINK(1)", "\u202egnp.exe", "sha256:" + "0" * 64, "1970-01-01T00:00:00Z",
                                "9999-12-31T23:59:59.999999999Z", "2026-11-29T13:04:29.966128664+14:00",
                                "DELETE", "HEAD", "push", "delete", "latest", "PULL_ARTIFACT",
                                "harbor.artifact.pulled"]) | st.text(max_size=30)
HOSTILE_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats(allow_nan=False,
                                                                                           allow_infinity=False)
    | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=12,
)


def counted(source: str) -> tuple[int, int, int]:
    """Audit events, the observations of `source` (registry or harbor), events of unknown shape."""
    return (AuditEvent.objects.count(), StoredObservation.objects.filter(source=source).count(),
            UnknownEvent.objects.count())


def delivered_whole(deliver: Callable[[bytes], Awaitable[tuple[int, dict]]], body: bytes, source: str
                    ) -> dict | None:
    """Deliver a hostile body to `source`'s webhook: it never gets a 5xx, and leaves no partial row. A refused body
    (400, saying why) changes nothing; an accepted one (200) adds exactly what its answer counts, each stored event
    with its observation and each unknown one raw. The answer when it was accepted, else None."""
    before = counted(source)
    status, answer = async_to_sync(deliver)(body)
    after = counted(source)
    assert status in (200, 400), (status, answer)
    if status != 200:
        assert after == before and answer["error"]
        return None
    added = tuple(now - then for now, then in zip(after, before, strict=True))
    assert added == (answer["stored"], answer["stored"], answer["unknown"]), (added, answer)
    return answer


def with_changes(document: dict, changes: list[tuple[tuple[str, ...], object]]) -> dict:
    """A copy of `document` with the value at each path replaced (objects made on the way where missing)."""
    changed = json.loads(json.dumps(document))
    for path, value in changes:
        holder = changed
        for name in path[:-1]:
            holder = holder[name] if isinstance(holder.get(name), dict) else holder.setdefault(name, {})
            if not isinstance(holder, dict):
                break
        else:
            holder[path[-1]] = value
    return changed
