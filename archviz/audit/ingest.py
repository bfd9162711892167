"""Writing the audit trail: each delivered event stored once (a readable one with its Observation and its
manifest's references, an unknown one raw) in one transaction; refused deliveries counted.

Why SQL statements instead of the ORM here: distribution 3 posts one event at a time and waits for each answer,
so the time spent per event is a registry's ceiling. Each write is one INSERT … ON CONFLICT DO NOTHING, built
once from the models, and the database, not a SELECT first, says whether an event is new. The ORM's query
building cost more than SQLite's own work (profiled with py-spy; see bench/registry_ingest.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, models, transaction
from django.db.backends.utils import CursorWrapper

from archviz.models import AuditEvent, ManifestReference, RefusedDelivery, UnknownEvent
from archviz.publish import publish
from archviz.sources.registry import COLUMNS, Delivery, observation_from_event


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a delivery added: new readable events, new unknown ones, and events stored before (redeliveries)."""

    stored: int
    unknown: int
    duplicates: int

    def to_wire(self) -> dict[str, int]:
        return {"stored": self.stored, "unknown": self.unknown, "duplicates": self.duplicates}


def ingest(delivery: Delivery, sender: str = "") -> Outcome:
    """Store what is not stored yet, in one transaction (all of it or, on an error, none of it)."""
    received_ns = time.time_ns()
    with transaction.atomic(), connection.cursor() as cursor:
        fresh = [event for event in delivery.events
                 if _insert(cursor, AuditEvent, COLUMNS, [getattr(event, name) for name in COLUMNS])]
        references = [(event.digest, position, reference.digest, reference.media_type, reference.size)
                      for event in fresh if event.target_kind == "manifest" and event.digest
                      for position, reference in enumerate(event.references)]
        if references:
            cursor.executemany(_insert_sql(ManifestReference, _REFERENCE_COLUMNS), references)
        kept = sum(_insert(cursor, UnknownEvent, _UNKNOWN_COLUMNS,
                           [item.key, received_ns, item.event_id, item.reason, item.raw, sender[:255]])
                   for item in delivery.unknown)
        publish([observation_from_event(event) for event in fresh])
    return Outcome(stored=len(fresh), unknown=kept,
                   duplicates=len(delivery.events) + len(delivery.unknown) - len(fresh) - kept)


def record_refusal(cause: str, status: int, sender: str) -> None:
    """Count one refused delivery of this cause from this sender."""
    now = time.time_ns()
    table = connection.ops.quote_name(RefusedDelivery._meta.db_table)
    count = connection.ops.quote_name("count")
    with connection.cursor() as cursor:
        cursor.execute(
            f"{_insert_sql(RefusedDelivery, _REFUSAL_COLUMNS, conflict=False)} "
            f"ON CONFLICT (cause, sender) DO UPDATE SET {count} = {table}.{count} + 1, last_ns = excluded.last_ns, "
            f"status = excluded.status",
            [cause, status, sender[:255], 1, now, now])


_REFERENCE_COLUMNS = ("manifest", "position", "digest", "media_type", "size")
_UNKNOWN_COLUMNS = ("key", "received_ns", "event_id", "reason", "raw", "sender")
_REFUSAL_COLUMNS = ("cause", "status", "sender", "count", "first_ns", "last_ns")


def _insert(cursor: CursorWrapper, model: type[models.Model], columns: Sequence[str], values: list[object]) -> bool:
    """Insert one row unless a unique column says it is there already; True when it was new."""
    cursor.execute(_insert_sql(model, tuple(columns)), values)
    return cursor.rowcount == 1


@functools.cache
def _insert_sql(model: type[models.Model], columns: tuple[str, ...], conflict: bool = True) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    values = ", ".join(["%s"] * len(columns))
    return (f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({values})"
            + (" ON CONFLICT DO NOTHING" if conflict else ""))
