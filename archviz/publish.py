"""The one way anything reaches a browser: store it, then broadcast it once the transaction commits.

`publish` (observations), `publish_inventory` (inventory changes) and `publish_pull` (a pull's progress,
with `publish_pull_from_loop` for code on the event loop) are the only ways in, and they are the only callers
of `group_send` in archviz. Keep it that way: a browser that reconnects resyncs from the store, which is only
sound if nothing is ever shown that was not stored first (a pull's progress is the one transient exception).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from asgiref.sync import AsyncToSync, SyncToAsync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.db import connection, transaction

from archviz import sql
from archviz.architecture.traffic import traffic
from archviz.inventory import Change
from archviz.live_sequence import roles, sequence_delta
from archviz.models import InventoryItem, InventoryState, StoredObservation
from archviz.observation import Observation

log = logging.getLogger(__name__)
LIVE_GROUP = "live"
INVENTORY_GROUP = "inventory"
STORED_COLUMNS = ("time_ns", "source", "host", "kind", "subject", "attributes", "correlation", "key")


def publish(observations: Sequence[Observation]) -> list[StoredObservation]:
    """Store the observations not already stored (by key), then broadcast those after commit."""
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
    # Keys are looked up before inserting (not skipped on conflict): PostgreSQL would spend a sequence number
    # on each skipped row, and the browser takes a gap in the ids for a lost message.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for key in sql.existing(cursor, StoredObservation, "key", list(rows)):
            del rows[key]
        fresh = sorted([*rows.values(), *unkeyed], key=lambda row: row.time_ns)
        for row in fresh:
            row.pk = sql.insert(cursor, StoredObservation, STORED_COLUMNS,
                                [getattr(row, name) for name in STORED_COLUMNS])
        if fresh:
            transaction.on_commit(partial(_broadcast, fresh))
    return fresh


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
        transaction.on_commit(partial(_send, INVENTORY_GROUP, message))
    return state.revision


def publish_pull(pull: dict[str, Any]) -> None:
    """Broadcast the progress of a pull started from the dashboard. Progress is transient and not stored:
    what is stored is the pull's start and end (Observations, via `publish`); a viewer that connects gets
    the running pulls in its inventory snapshot."""
    _send(INVENTORY_GROUP, {"type": "pull.progress", "pull": pull})


async def publish_pull_from_loop(pull: dict[str, Any]) -> None:
    """`publish_pull` for code running on the event loop itself (the API tap)."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(INVENTORY_GROUP, {"type": "pull.progress", "pull": pull})


def _broadcast(rows: list[StoredObservation]) -> None:
    observations = [row.to_wire() for row in rows]
    delta = sequence_delta(observations)
    _send(LIVE_GROUP, {
        "type": "observations.added",
        "observations": observations,
        "sequence": delta.to_wire(),
        # The same Messages as the architecture map reads them: the edge (or box) each one lights.
        "traffic": traffic(delta.messages, roles()),
    })


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _calling_event_loop()
    if loop is None:
        # No running loop handed us this work (a script, a test, or a loop that has just stopped): send from a
        # loop of our own. asgiref would hop to the stopped loop it remembers, and wait forever.
        AsyncToSync(layer.group_send, force_new_loop=True)(group, message)
    else:
        _send_in_order(loop, layer, group, message)


def _calling_event_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that handed this thread its work (asgiref records it for sync_to_async), if it runs."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop is not None and loop.is_running() else None


@dataclass
class _Outbox:
    """What an event loop has yet to send, in the order it was handed over, and whether a task is sending it."""

    messages: deque[tuple[BaseChannelLayer, str, dict[str, Any]]] = field(default_factory=deque)
    sending: bool = False


_order = threading.Lock()
_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox] = weakref.WeakKeyDictionary()
_senders: set[asyncio.Task[None]] = set()  # the loop holds tasks only weakly


def _send_in_order(loop: asyncio.AbstractEventLoop, layer: BaseChannelLayer, group: str,
                   message: dict[str, Any]) -> None:
    """Hand the send to the event loop without waiting for it (the committing request need not wait for the
    browsers). The loop sends one message at a time, in the order they were handed over, so that frames keep
    the order of the commits; a burst of commits is sent by one task, started by one wake-up of the loop."""
    with _order:
        outbox = _outboxes.setdefault(loop, _Outbox())
        outbox.messages.append((layer, group, message))
        if outbox.sending:
            return
        outbox.sending = True
    held = getattr(_wakeups, "held", None)
    if held is not None:
        held.append((loop, outbox))
    else:
        loop.call_soon_threadsafe(_start_sending, loop, outbox)


_wakeups = threading.local()


@contextlib.contextmanager
def one_wakeup() -> Iterator[None]:
    """Broadcasts committed in this block wake the event loop once, when the block ends, instead of at each
    commit. For work whose return wakes the loop anyway (a sync_to_async call, as the registry webhook's store):
    woken at the commit, the loop would only wait for the GIL while this thread finishes."""
    if getattr(_wakeups, "held", None) is not None:
        yield  # an outer block wakes the loop
        return
    _wakeups.held = []
    try:
        yield
    finally:
        held, _wakeups.held = _wakeups.held, None
        for loop, outbox in held:
            loop.call_soon_threadsafe(_start_sending, loop, outbox)


def _start_sending(loop: asyncio.AbstractEventLoop, outbox: _Outbox) -> None:
    task = loop.create_task(_send_all(outbox))
    _senders.add(task)
    task.add_done_callback(_senders.discard)


async def _send_all(outbox: _Outbox) -> None:
    while True:
        with _order:
            if not outbox.messages:
                outbox.sending = False
                return
            layer, group, message = outbox.messages.popleft()
        try:
            await layer.group_send(group, message)
        except Exception:  # one failed send must not hold back the ones after it
            log.exception("could not send a message to the %r group", group)
