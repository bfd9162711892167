"""The audit page's live tail: the newest page of a filter, and which of a publication's observations are audit
events of that filter.

The tail rides the live diagram's numbered publications (archviz.publisher): an audit row (a registry's or
Harbor's) is stored with its Observation or before it (archviz.audit.ingest, archviz.audit.writer), whose `event`
attribute names the row, so every audit row a publication accounts for is in the store when the publication is sent.
"""

from __future__ import annotations

from typing import Any

from archviz.audit.query import AuditFilter, blobs_query, cursor_text, page, references_of, wire
from archviz.models import AuditEvent, Publication
from archviz.sources.registry import SOURCES


def rows_wire(rows: list[AuditEvent]) -> list[dict[str, Any]]:
    """Audit rows as the page draws them: the API's record with `time_ns` as a string (nanoseconds do not fit a JS
    number), the row's keyset `cursor` (its place in the page's order, newest first) and the filter of its blobs."""
    references = references_of(rows)
    return [{**wire(row, references), "time_ns": str(row.time_ns), "cursor": cursor_text(row.time_ns, row.pk),
             "blobs_query": blobs_query(row, references)} for row in rows]


def snapshot(audit_filter: AuditFilter) -> dict[str, Any]:
    """The number of the newest publication, then the newest page of the filter: everything that publication
    accounts for is in it (or older than it)."""
    seq = Publication.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    rows, cursor = page(audit_filter, None)
    return {"type": "audit-snapshot", "seq": seq, "events": rows_wire(rows), "more": cursor is not None}


def brings_events(observations: list[dict[str, Any]]) -> bool:
    """Whether any of these published observations came with an audit row."""
    return any(o["source"] in SOURCES for o in observations)


def added(audit_filter: AuditFilter, observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit rows of the filter behind these published observations, newest first."""
    ids = [o["attributes"].get("event") for o in observations if o["source"] in SOURCES]
    ids = [event_id for event_id in ids if isinstance(event_id, str)]
    if not ids:
        return []
    return rows_wire(list(audit_filter.queryset().filter(event_id__in=ids).order_by("-time_ns", "-id")))
