"""Writing the audit trail: each delivered event stored once (a readable one with its manifest's references, an
unknown one raw) in one transaction; each readable event's Observation made in that transaction or just after it
(`observe`); refused deliveries counted.

Distribution 3 posts one event at a time and waits for each answer, so the time spent per event is a registry's
ceiling: each write is one INSERT … ON CONFLICT DO NOTHING (archviz.sql), and the database, not a SELECT first,
says whether an event is new. Where `serve` publishes a moment later (archviz.audit.writer), the Observations are made
then too, for all the events stored meanwhile: an event's row is what the registry must know kept before its
answer, and its Observation, in the same transaction, was over a third of the time of storing it (six of the
nineteen pages each commit wrote; four an event in a batch of twenty). `observe_missing` makes, as serve starts,
those a stop left unmade.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from archviz import sql
from archviz.models import AuditEvent, ManifestReference, RefusedDelivery, UnknownEvent
from archviz.publish import publish
from archviz.sources.registry import COLUMNS, Delivery, RegistryEvent, observation_from_event


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a delivery added: new readable events, new unknown ones, and events stored before (redeliveries)."""

    stored: int
    unknown: int
    duplicates: int
    fresh: tuple[RegistryEvent, ...] = ()  # the new readable events, in their order

    def to_wire(self) -> dict[str, int]:
        return {"stored": self.stored, "unknown": self.unknown, "duplicates": self.duplicates}


def ingest(delivery: Delivery, sender: str = "", *, observed: bool = True) -> Outcome:
    """Store what is not stored yet, in one transaction (all of it or, on an error, none of it); with `observed`,
    the new events' Observations too (else the caller makes them, with `observe`)."""
    received_ns = time.time_ns()
    with transaction.atomic(), connection.cursor() as cursor:
        inserted = set(sql.insert_many(cursor, AuditEvent, COLUMNS,
                                       [[getattr(event, name) for name in COLUMNS] for event in delivery.events],
                                       returning="event_id", skip_existing=True))
        fresh = []
        for event in delivery.events:
            if event.event_id in inserted:
                inserted.discard(event.event_id)  # an id twice in one delivery: its first row is the one stored
                fresh.append(event)
        listing = {event.digest: event.references for event in fresh
                   if event.target_kind == "manifest" and event.digest and event.references}
        for digest in sql.existing(cursor, ManifestReference, "manifest", list(listing)):
            del listing[digest]  # a digest fixes a manifest's content: its references are known already
        for digest, references in listing.items():
            for position, reference in enumerate(references):
                sql.insert(cursor, ManifestReference, _REFERENCE_COLUMNS,
                           (digest, position, reference.digest, reference.media_type, reference.size),
                           skip_existing=True)
        kept = sum(sql.insert(cursor, UnknownEvent, _UNKNOWN_COLUMNS,
                              (item.key, received_ns, item.event_id, item.reason, item.raw, sender[:255],
                               item.source),
                              skip_existing=True) is not None
                   for item in delivery.unknown)
        if observed:
            observe(fresh)
    return Outcome(stored=len(fresh), unknown=kept,
                   duplicates=len(delivery.events) + len(delivery.unknown) - len(fresh) - kept, fresh=tuple(fresh))


def observe(events: Sequence[RegistryEvent]) -> None:
    """Store the events' Observations, in the events' order. Each rides the live publications to the audit page's
    tail (the diagram draws a registry's exchanges with clients; Harbor's events name no client, so it draws none
    of them)."""
    publish([observation_from_event(event) for event in events])


def observe_missing(newest: int = 10_000) -> int:
    """Make the Observations the newest audit events lack (events stored just before serve stopped, whose
    Observations were still to be made); how many it made. One transaction."""
    with transaction.atomic():
        rows = AuditEvent.objects.order_by("-id").values_list(*COLUMNS)[:newest]
        # `publish` skips each whose key is stored already: only the missing ones are made.
        return len(publish([observation_from_event(RegistryEvent(**dict(zip(COLUMNS, row, strict=True))))
                            for row in reversed(rows)]))


def record_refusal(cause: str, status: int, sender: str, source: str = "registry") -> None:
    """Count one refused delivery of this cause from this sender to this source's webhook (one upsert: no race
    between two senders)."""
    now = time.time_ns()
    quote = connection.ops.quote_name
    table, count = quote(RefusedDelivery._meta.db_table), quote("count")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (source, cause, status, sender, {count}, first_ns, last_ns) "
            f"VALUES (%s, %s, %s, %s, 1, %s, %s) "
            f"ON CONFLICT (source, cause, sender) DO UPDATE SET {count} = {table}.{count} + 1, "
            f"last_ns = excluded.last_ns, status = excluded.status",
            [source, cause, status, sender[:255], now, now])


_REFERENCE_COLUMNS = ("manifest", "position", "digest", "media_type", "size")
_UNKNOWN_COLUMNS = ("key", "received_ns", "event_id", "reason", "raw", "sender", "source")
