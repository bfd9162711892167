"""The one way anything reaches a browser: store it, then broadcast it once the transaction commits.

`publish` (observations), `publish_inventory` (inventory changes) and `publish_pull` (a pull's progress, with
`publish_pull_from_loop` for code on the event loop) are the only ways in. Observations are not broadcast by the
process that stores them but by the one publisher (archviz.publisher), which folds the store in order into
numbered publications; a process that leads publishes what it stored at once, after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import connection, transaction

from archviz import sql
from archviz.broadcast import INVENTORY_GROUP, send, send_from_loop
from archviz.inventory import Change
from archviz.leadership import STORED_CHANNEL, STORING_LOCK, on_postgresql
from archviz.metrics import OBSERVATIONS_INGESTED
from archviz.models import InventoryItem, InventoryState, StoredObservation
from archviz.observation import Observation
from archviz.publisher import PUBLISHER

STORED_COLUMNS = ("time_ns", "source", "host", "kind", "subject", "attributes", "correlation", "key")


def publish(observations: Sequence[Observation]) -> list[StoredObservation]:
    """Store the observations not already stored (by key); after the commit they are published in store order."""
    rows: dict[str | None, StoredObservation] = {}
    unkeyed: list[StoredObservation] = []
    for observation in observations:
        row = StoredObservation.from_observation(observation)
        if row.key is None:
            unkeyed.append(row)
        else:
            rows.setdefault(row.key, row)
    # Inside a caller's transaction (the registry webhook stores its audit rows in the same one) a savepoint
    # would only cost two statements: a failure here fails the caller's transaction as a whole anyway.
    with transaction.atomic(savepoint=False):
        if on_postgresql():
            # Ids are assigned under this lock and committed before it is released, so they commit in order:
            # the publisher, reading past the newest id it published, can never miss one committed later.
            # The NOTIFY wakes the publisher wherever it runs, at the commit.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s), pg_notify(%s, '')", [STORING_LOCK, STORED_CHANNEL])
        # Keys are looked up before inserting (not skipped on conflict): PostgreSQL would spend a sequence number
        # on each skipped row. INSERTs built once (archviz.sql), many rows each, cost a fraction of the ORM's.
        with connection.cursor() as cursor:
            for key in sql.existing(cursor, StoredObservation, "key", list(rows)):
                del rows[key]
            fresh = sorted([*rows.values(), *unkeyed], key=lambda row: row.time_ns)
            ids = sql.insert_many(cursor, StoredObservation, STORED_COLUMNS,
                                  [[getattr(row, name) for name in STORED_COLUMNS] for row in fresh])
            for row, pk in zip(fresh, sorted(ids), strict=True):  # ids are given in the rows' order
                row.pk = pk
        if fresh:
            transaction.on_commit(partial(_count, [row.source for row in fresh]))
            # robust: a failure to publish is logged and retried by the publisher's loop; the observations are stored.
            transaction.on_commit(PUBLISHER.stored, robust=True)
    return fresh


def _count(sources: list[str]) -> None:
    for source in sources:
        OBSERVATIONS_INGESTED.labels(source).inc()


def publish_inventory(host: str, change_list: Sequence[Change], *, reload: bool = False) -> int:
    """Store a host's inventory changes (with `reload`, the changes are its whole inventory), then broadcast
    them after commit with the host's new revision, which is returned."""
    with transaction.atomic():
        state, _ = InventoryState.objects.get_or_create(host=host)
        items = InventoryItem.objects.filter(host=host)
        if reload:
            items.delete()
        removed = [(c.kind, c.id) for c in change_list if c.op == "remove"]
        for kind, key in removed:
            items.filter(kind=kind, object_id=key).delete()
        upserts = [InventoryItem(host=host, kind=c.kind, object_id=c.id, data=c.item)
                   for c in change_list if c.op == "upsert"]
        InventoryItem.objects.bulk_create(upserts, update_conflicts=True,
                                          unique_fields=["host", "kind", "object_id"], update_fields=["data"])
        state.revision += 1
        state.save(update_fields=["revision"])
        message = {"type": "inventory.changed", "host": host, "revision": state.revision, "reload": reload,
                   "changes": [c.to_wire() for c in change_list]}
        transaction.on_commit(partial(send, INVENTORY_GROUP, message))
    return state.revision


def publish_pull(pull: dict[str, Any]) -> None:
    """Broadcast the progress of a pull started from the dashboard. Progress is transient and not stored:
    what is stored is the pull's start and end (Observations, via `publish`); a viewer that connects gets
    the running pulls in its inventory snapshot."""
    send(INVENTORY_GROUP, {"type": "pull.progress", "pull": pull})


async def publish_pull_from_loop(pull: dict[str, Any]) -> None:
    """`publish_pull` for code running on the event loop itself (the API tap)."""
    await send_from_loop(INVENTORY_GROUP, {"type": "pull.progress", "pull": pull})
