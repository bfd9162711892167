"""Reading the audit trail: filter events, page through them by keyset, export them with constant memory; list
what arrived in a shape archviz cannot read, and the deliveries the webhook refused."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, ClassVar
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.db.models import Q, QuerySet

from archviz.models import AuditEvent, ManifestReference, RefusedDelivery, UnknownEvent
from archviz.query import QueryError, time_range, whole_number
from archviz.sources import harbor
from archviz.sources.registry import ACTIONS, COLUMNS, LATEST_NS, SOURCES, TARGET_KINDS, is_digest

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
EXPORT_CHUNK = 2000
STREAM_LINES = 2000
MAX_FILTER_VALUE = 1024
# Every action an audit event can have: a registry's, then those only Harbor sends (scans, quotas, replication…).
ALL_ACTIONS = tuple(dict.fromkeys((*ACTIONS, *harbor.ACTIONS)))


@dataclass(frozen=True)
class AuditFilter:
    repository: str = ""
    tag: str = ""
    digest: str = ""
    action: str = ""
    actor: str = ""
    addr: str = ""
    useragent: str = ""
    kind: str = ""
    source: str = ""  # registry or harbor
    checks: str = "show"  # existence checks (HEAD): show, hide or only
    manifest: str = ""  # the blobs (and manifests) this manifest digest references
    since: int | None = None
    until: int | None = None
    # The newest row a report's pages are as of (its cursor keeps it), so events that arrive between two pages do not
    # shift the records; never read from a query string.
    through: int | None = None

    TEXT = ("repository", "tag", "digest", "actor", "addr", "useragent")
    # The parameters with a fixed set of values, the first the default ("" is any).
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "action": ("", *ALL_ACTIONS), "kind": ("", *TARGET_KINDS), "source": ("", *SOURCES),
        "checks": ("show", "hide", "only"),
    }
    PARAMETERS = (*TEXT, "action", "kind", "source", "checks", "manifest", "since", "until")

    @classmethod
    def from_query(cls, query: dict[str, str]) -> AuditFilter:
        """Read the filter from a query string, or raise QueryError naming the bad value."""
        values: dict[str, Any] = {}
        for name in cls.TEXT:
            value = query.get(name, "").strip()
            if len(value) > MAX_FILTER_VALUE:
                raise QueryError(f"{name} is longer than {MAX_FILTER_VALUE} characters")
            values[name] = value
        for name, allowed in cls.CHOICES.items():
            value = query.get(name, "").strip() or allowed[0]
            if value not in allowed:
                raise QueryError(f"{name}={value[:40]!r} is not one of {', '.join(a for a in allowed if a)}")
            values[name] = value
        values["manifest"] = query.get("manifest", "").strip()
        if values["manifest"] and not is_digest(values["manifest"]):
            raise QueryError(f"manifest={values['manifest'][:80]!r} is not a digest: give one like sha256:<64 hex>")
        values["since"], values["until"] = time_range({k: query[k] for k in ("since", "until") if query.get(k)})
        return cls(**values)

    def queryset(self) -> QuerySet[AuditEvent]:
        rows = AuditEvent.objects.all()
        exact = {"repository": self.repository, "tag": self.tag, "digest": self.digest, "action": self.action,
                 "actor": self.actor, "request_addr": self.addr, "target_kind": self.kind, "source": self.source}
        rows = rows.filter(**{name: value for name, value in exact.items() if value})
        if self.useragent:
            rows = rows.filter(request_useragent__contains=self.useragent)
        if self.manifest:
            rows = rows.filter(digest__in=ManifestReference.objects.filter(manifest=self.manifest).values("digest"))
        if self.checks == "hide":
            rows = rows.exclude(request_method="HEAD")
        elif self.checks == "only":
            rows = rows.filter(request_method="HEAD")
        if self.since is not None:
            rows = rows.filter(time_ns__gte=self.since)
        if self.until is not None:
            rows = rows.filter(time_ns__lte=self.until)
        if self.through is not None:
            rows = rows.filter(id__lte=self.through)
        return rows

    def as_query(self) -> dict[str, str]:
        """The filter as query parameters (for links: the next page, exports)."""
        query = {name: getattr(self, name) for name in (*self.TEXT, "action", "kind", "source", "manifest")}
        query = {name: value for name, value in query.items() if value}
        if self.checks != "show":
            query["checks"] = self.checks
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                query[name] = f"{value // 10**9}.{value % 10**9:09d}"
        return query


def parse_cursor(value: str, name: str = "before", follow: str = "the \"older\" link") -> tuple[int, int] | None:
    """A page cursor as `cursor_text` made it: two whole numbers (each at most LATEST_NS). The audit trail's pages
    take `before=<time_ns>.<id>` (the page starts after, older than, that row); a report's take `cursor`."""
    if not value:
        return None
    first, _, second = value.partition(".")
    if (not all(part.isascii() and part.isdigit() for part in (first, second)) or len(value) > 40
            or max(int(first), int(second)) > LATEST_NS):
        raise QueryError(f"{name}={value[:40]!r} is not a page cursor: follow {follow}")
    return int(first), int(second)


def cursor_text(first: int, second: int) -> str:
    return f"{first}.{second}"


def page(audit_filter: AuditFilter, before: tuple[int, int] | None, size: int = PAGE_SIZE
         ) -> tuple[list[AuditEvent], str | None]:
    """One page, newest first, and the cursor of the next (older) page, or None at the end."""
    rows = audit_filter.queryset().order_by("-time_ns", "-id")
    if before is not None:
        rows = rows.filter(Q(time_ns__lt=before[0]) | Q(time_ns=before[0], id__lt=before[1]))
    found = list(rows[: size + 1])
    more = len(found) > size
    found = found[:size]
    return found, (cursor_text(found[-1].time_ns, found[-1].pk) if more else None)


def parse_limit(value: str) -> int:
    """`limit=N`: how many events a page holds, 1 to MAX_PAGE_SIZE (PAGE_SIZE when not given)."""
    return whole_number("limit", value, 1, MAX_PAGE_SIZE, 500) if value else PAGE_SIZE


References = dict[str, list[ManifestReference]]


def references_of(rows: Iterable[AuditEvent]) -> References:
    """The references of the manifests among these rows, by manifest digest, in the manifest's order."""
    digests = {row.digest for row in rows if row.target_kind == "manifest" and row.digest}
    found: References = {}
    for reference in ManifestReference.objects.filter(manifest__in=digests).order_by("manifest", "position"):
        found.setdefault(reference.manifest, []).append(reference)
    return found


def blobs_query(row: AuditEvent, references: References, within_ns: int = 60_000_000_000) -> str:
    """For a manifest: the filter of its blobs in the same repository. Exactly the blobs it references when the
    registry listed them (distribution 3 with includereferences); otherwise the blobs the same client moved in
    the same repository around it, the next best thing."""
    if row.target_kind != "manifest":
        return ""
    if row.digest in references:
        return urlencode(AuditFilter(repository=row.repository, manifest=row.digest).as_query())
    if row.action == "delete":
        return ""
    return urlencode(AuditFilter(repository=row.repository, kind="blob", addr=row.request_addr,
                                 since=max(row.time_ns - within_ns, 0), until=row.time_ns + within_ns).as_query())


def wire(row: AuditEvent, references: References) -> dict[str, Any]:
    record = {name: getattr(row, name) for name in COLUMNS}
    record["time"] = iso_time(row.time_ns)
    record["existence_check"] = row.request_method == "HEAD"
    record["references"] = [{"digest": r.digest, "media_type": r.media_type, "size": r.size}
                            for r in references.get(row.digest, []) if row.target_kind == "manifest"]
    return record


def iso_time(time_ns: int) -> str:
    seconds, nanoseconds = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanoseconds:09d}Z"


def _chunks(audit_filter: AuditFilter) -> Iterator[tuple[list[AuditEvent], References]]:
    before = None
    while True:
        rows, cursor = page(audit_filter, before, EXPORT_CHUNK)
        if rows:
            yield rows, references_of(rows)
        if cursor is None:
            return
        before = parse_cursor(cursor)


def export_lines(audit_filter: AuditFilter, form: str) -> Iterator[str]:
    """CSV or JSON Lines of every matching event, newest first, read a chunk at a time (constant memory)."""
    header = ["time", *COLUMNS, "existence_check", "references"]
    if form == "csv":
        yield csv_line(header)
    for rows, references in _chunks(audit_filter):
        for row in rows:
            record = wire(row, references)
            yield csv_line([_cell(record[name]) for name in header]) if form == "csv" else json.dumps(record) + "\n"


async def streamed(lines: Iterator[str]) -> AsyncIterator[str]:
    """The lines of a synchronous iterator that reads the database, STREAM_LINES at a time in Django's thread for
    synchronous code: given a synchronous iterator, a StreamingHttpResponse under ASGI reads it whole before
    sending anything, and an export of every event would be held in memory."""
    take = sync_to_async(lambda: list(islice(lines, STREAM_LINES)), thread_sensitive=True)
    while batch := await take():
        yield "".join(batch)


def _cell(value: Any) -> Any:
    """A CSV cell: references are their digests, space-separated."""
    return " ".join(reference["digest"] for reference in value) if isinstance(value, list) else value


def csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    # Cells that a spreadsheet would run as a formula are written as text.
    csv.writer(buffer).writerow(
        ["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else ("" if v is None else v) for v in values])
    return buffer.getvalue()


# What arrived but could not be read, and what was refused ---------------------------------------------------


def unknown_count() -> int:
    return UnknownEvent.objects.count()


def unknown_page(before: int | None, size: int = PAGE_SIZE) -> tuple[list[UnknownEvent], int | None]:
    """Events of unknown shape, newest first, and the cursor (an id) of the next, older page, or None."""
    rows = UnknownEvent.objects.order_by("-id")
    if before is not None:
        rows = rows.filter(id__lt=before)
    found = list(rows[: size + 1])
    return found[:size], (found[size - 1].pk if len(found) > size else None)


def unknown_wire(row: UnknownEvent) -> dict[str, Any]:
    return {"id": row.pk, "source": row.source, "received": iso_time(row.received_ns), "event_id": row.event_id,
            "reason": row.reason, "sender": row.sender, "raw": row.raw}


def refusals() -> list[RefusedDelivery]:
    """Refused deliveries per cause and sender, the latest first."""
    return list(RefusedDelivery.objects.order_by("-last_ns", "cause"))


def refusal_wire(row: RefusedDelivery) -> dict[str, Any]:
    return {"source": row.source, "cause": row.cause, "status": row.status, "sender": row.sender, "count": row.count,
            "first": iso_time(row.first_ns), "last": iso_time(row.last_ns)}
