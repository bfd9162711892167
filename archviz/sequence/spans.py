"""Spans, and which one caused what: the heart of the diagram's truth.

A span is one request a client made (seen by the API tap: it opens when the request's head arrives and closes
when its answer ends; a hijacked stream stays open until it closes) or one pull started from the dashboard.
An effect is a daemon event or a registry notification. An effect belongs to the span that
1. can cause it: the span's row in archviz.sequence.rules lists the effect's kind;
2. names its subject (the container, exec, image reference or repository), or names nothing it could be told by;
3. was open when it happened, give or take the clock skew between the parties.
Where several spans qualify, the more specific wins: a matching subject over a kind alone, a span that truly
contains the effect over one that only does within the skew, and then the innermost (the one that began last).
Effects no span owns are left to inference (archviz.sequence.inference), and drawn as such.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from archviz.sequence.names import familiar, normalize_reference, repository_of
from archviz.sequence.rules import (
    ACTION_PULL,
    COMMITTED,
    CONTAINER,
    EXEC,
    NAME,
    PULLED,
    PUSHED,
    TAGGED,
    Endpoint,
    daemon_asked,
    endpoint_for,
    query_of,
    request_subject,
)

# How far the parties' clocks may disagree: the daemon shares the tap's host (the tap proxies its unix socket), a
# registry may not. A span that names nothing to tell its effects by (a build) owns a registry's notification only
# if it truly contains it.
DAEMON_SKEW_NS = 5_000_000
REGISTRY_SKEW_NS = 2_500_000_000
# Spans that began this long before an effect are looked at only if they are still open or ran long.
RECENT_NS = 60_000_000_000
ANSWERS = ("api-call", "api-stream-end")
# What can end a span: a tapped request's answer, or the end of a dashboard pull.
ENDINGS = (*ANSWERS, "action-pull-done", "action-pull-failed", "action-pull-cancelled")
_WHO = ("pid", "connection", "user_agent", "process", "span", "peer")


@dataclass(slots=True, eq=False)
class Span:
    id: str
    host: str
    client: str  # who made it: the box its command is drawn in is keyed by this
    method: str
    path: str
    query: dict[str, str]
    endpoint: Endpoint
    subject: str
    started_ns: int
    ended_ns: int | None = None
    status: int = 0
    error: str = ""
    exit_code: int | None = None
    streamed: bool = False
    container: str = ""  # the container a create made (its answer's Id)
    # Registry notifications (or the progress's layers) were heard for it: the daemon's event need not guess them.
    heard_registry: bool = False
    # The registry whose notifications it caused: the one that really answered (a mirror, say, for docker.io).
    registry: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.ended_ns is None


def span_id_of(observation: dict[str, Any]) -> str:
    """The span an observation of the tap or of a dashboard action belongs to ("" when it names none)."""
    if observation["source"] == "action":
        return f"action:{observation['correlation']}"
    span = observation["attributes"].get("span")
    return str(span) if span else ""


def client_of(observation: dict[str, Any]) -> str:
    """A client process (by its pid, from the unix socket's peer credentials), else a TCP client's host and
    program, else its connection."""
    if observation["source"] == "action":
        return f"action:{observation['correlation']}"
    attributes = observation["attributes"]
    if attributes.get("pid"):
        who = f"pid {attributes['pid']}"
    elif attributes.get("peer"):
        # Over TCP no process is known: one program on one host makes its commands one after another.
        who = f"peer {attributes['peer']} {attributes.get('user_agent', '')}"
    else:
        who = f"connection {attributes.get('connection', '?')}"
    return f"{observation['host']} {who}"


@lru_cache(maxsize=1024)
def _keys_of(host: str, causes: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """Where a span is indexed: by each effect kind it can cause, on its daemon (or any registry)."""
    return tuple(("*" if kind.startswith("registry-") else host, kind) for kind in causes)


class SpanBook:
    """Every span seen, indexed so that an effect finds its candidates without looking at all of them."""

    def __init__(self) -> None:
        self.spans: dict[str, Span] = {}
        # (daemon host, or "*" for registry effects, effect kind) -> spans that can cause it, by start time
        self._by_kind: dict[tuple[str, str], list[Span]] = {}
        self._starts: dict[tuple[str, str], list[int]] = {}
        # Spans found however long ago they began: those still open, and those that ran longer than RECENT_NS.
        self._unended: dict[tuple[str, str], dict[str, Span]] = {}
        self._long: dict[tuple[str, str], list[Span]] = {}
        # The longest any other span that ended ran: one that began longer ago than that (and the skew) before an
        # effect had ended before it, and need not be looked at.
        self._reach: dict[tuple[str, str], int] = {}
        self.names: dict[str, str] = {}  # container id -> name, learned from the daemon's events

    def note(self, observation: dict[str, Any]) -> Span | None:
        """Open, update or close the span a tap or action observation belongs to; None for other observations."""
        span_id = span_id_of(observation)
        if not span_id:
            return None
        span = self.spans.get(span_id)
        if span is None:
            span = self._open(span_id, observation)
        self._update(span, observation)
        return span

    def _open(self, span_id: str, o: dict[str, Any]) -> Span:
        attributes = o["attributes"]
        if o["source"] == "action":
            endpoint, method, path, query = ACTION_PULL, "POST", "/images/create", {}
            subject = normalize_reference(o["subject"])
        else:
            method, path = str(attributes.get("method", "")), str(attributes.get("path", ""))
            query = query_of(attributes)
            endpoint = endpoint_for(method, path)
            subject = request_subject(endpoint, path, query)
        started = int(o["time_ns"])
        if o["kind"] == "api-stream-end" and attributes.get("duration_ms"):
            started -= int(float(attributes["duration_ms"]) * 1e6)
        span = Span(span_id, o["host"], client_of(o), method, path, query, endpoint, subject, started,
                    attributes={k: attributes[k] for k in _WHO if k in attributes})
        self.spans[span_id] = span
        for key in self._keys(span):
            index = bisect.bisect_right(self._starts.setdefault(key, []), started)
            self._starts[key].insert(index, started)
            self._by_kind.setdefault(key, []).insert(index, span)
            self._unended.setdefault(key, {})[span_id] = span
        return span

    def _update(self, span: Span, o: dict[str, Any]) -> None:
        attributes, kind = o["attributes"], o["kind"]
        if kind in ("api-pull-layer", "api-push-layer", "action-pull-layer"):
            span.heard_registry = True
        if kind not in ENDINGS:
            return
        span.status = int(attributes.get("status") or span.status or 0)
        span.error = str(attributes.get("error", "") or attributes.get("message", "") or span.error)
        if attributes.get("container") and not span.container:
            span.container = str(attributes["container"])
            if span.endpoint.subject == NAME and not span.subject:
                span.subject = span.container
        if "exit_code" in attributes:
            span.exit_code = int(attributes["exit_code"])
        streamed = kind == "api-call" and attributes.get("streamed")
        span.streamed = span.streamed or bool(streamed)
        if not streamed and span.ended_ns is None:
            duration = float(attributes.get("duration_ms") or 0)
            span.ended_ns = (span.started_ns + int(duration * 1e6)) if kind in ANSWERS else int(o["time_ns"])
            ran = span.ended_ns - span.started_ns
            for key in self._keys(span):
                self._unended.get(key, {}).pop(span.id, None)
                if ran > RECENT_NS:
                    self._long.setdefault(key, []).append(span)
                elif ran > self._reach.get(key, 0):
                    self._reach[key] = ran

    def forget(self, horizon_ns: int) -> None:
        """Drop the spans that ended before `horizon_ns`: they can own nothing that is still to come."""
        stale = {i for i, span in self.spans.items() if span.ended_ns is not None and span.ended_ns < horizon_ns}
        if not stale:
            return
        self.spans = {i: span for i, span in self.spans.items() if i not in stale}
        for key, spans in self._by_kind.items():
            self._by_kind[key] = [span for span in spans if span.id not in stale]
            self._starts[key] = [span.started_ns for span in self._by_kind[key]]
        for key, spans in self._long.items():
            self._long[key] = [span for span in spans if span.id not in stale]
        if len(self.names) > len(self.spans) * 2 + 1024:
            # Insertion order is age: the containers named longest ago go first.
            self.names = dict(list(self.names.items())[len(self.names) // 2:])

    @staticmethod
    def _keys(span: Span) -> tuple[tuple[str, str], ...]:
        return _keys_of(span.host, span.endpoint.causes)

    def learn(self, effect: dict[str, Any]) -> None:
        """Remember a container's name from a daemon event, to match a request that names it."""
        if effect["kind"].startswith("container-") and effect["subject"] and effect["attributes"].get("id"):
            self.names[effect["attributes"]["id"]] = effect["subject"]

    def owner(self, effect: dict[str, Any]) -> Span | None:
        """The span that caused a daemon event or a registry notification, or None."""
        kind, at = effect["kind"], int(effect["time_ns"])
        registry = effect["source"] == "registry"
        if registry and not daemon_asked(effect):
            return None
        key = ("*" if registry else effect["host"], kind)
        skew = REGISTRY_SKEW_NS if registry else DAEMON_SKEW_NS
        starts = self._starts.get(key)
        if not starts:
            return None
        # Those that began since `recent`, latest first; before it, only the open ones and the long ones.
        recent = max(at - RECENT_NS, at - skew - self._reach.get(key, 0))
        spans = self._by_kind[key]
        candidates = spans[bisect.bisect_left(starts, recent):bisect.bisect_right(starts, at + skew)][::-1]
        candidates += [s for s in self._unended.get(key, {}).values() if s.started_ns < recent]
        candidates += [s for s in self._long.get(key, ()) if s.started_ns < recent]
        best: tuple[int, int, int] | None = None
        chosen = None
        for span in candidates:
            end = span.ended_ns
            if end is not None and at > end + skew:
                continue
            level = self._level(span, effect)
            strict = int(span.started_ns <= at and (end is None or at <= end))
            if not level or (registry and level == 1 and not strict):
                continue
            score = (level, strict, span.started_ns)
            if best is None or score > best:
                best, chosen = score, span
        return chosen

    def _level(self, span: Span, effect: dict[str, Any]) -> int:
        """2: the effect's subject is the one the span names; 1: the span names nothing to tell it by; 0: another."""
        rule, subject = span.endpoint.subject, span.subject
        if not rule or not subject:
            return 1
        attributes = effect["attributes"]
        if rule in (CONTAINER, COMMITTED, NAME):
            # A container's own event names it by id and name; a network's or volume's names it by id only.
            own = effect["kind"].startswith("container-")
            if not own and not attributes.get("container"):
                return 1  # a volume a create makes names no container: the span cannot tell it by its subject
            container = str(attributes.get("container") or attributes.get("id", "") if not own
                            else attributes.get("id", ""))
            names = {container, self.names.get(container, ""), effect["subject"] if own else ""}
            if subject in names or (len(subject) >= 4 and container.startswith(subject)) or (
                    span.container and span.container == container):
                return 2
            return 0
        if rule == EXEC:
            return 2 if attributes.get("execID") == subject else 0
        if rule in (PULLED, PUSHED):
            if effect["source"] == "registry":
                # By repository alone: a daemon with a registry mirror asks the mirror for a Docker Hub image.
                same = attributes.get("repository") == repository_of(subject)
            else:
                same = repository_of(normalize_reference(effect["subject"])) == repository_of(subject)
            return 2 if same else 0
        if rule == TAGGED:
            return 2 if familiar(normalize_reference(effect["subject"])) == familiar(subject) else 0
        return 1
