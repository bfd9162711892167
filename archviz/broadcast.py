"""The one caller of `group_send` in archviz: everything a browser hears goes out through `send` or
`send_from_loop`, called only by archviz.publish and archviz.publisher, after what is sent was stored (a pull's
progress is the one transient exception). Keep it that way: a browser that reconnects resyncs from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import AsyncToSync, SyncToAsync
from channels.layers import BaseChannelLayer, get_channel_layer

# The groups: the live diagram (numbered publications) and the inventory (per-host revisions, pulls' progress).
log = logging.getLogger(__name__)
LIVE_GROUP = "live"
INVENTORY_GROUP = "inventory"


def send(group: str, message: dict[str, Any]) -> None:
    """Send to a group from synchronous code (a commit hook), in the order of the calls, without waiting."""
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


async def send_from_loop(group: str, message: dict[str, Any]) -> None:
    """`send` for code running on the event loop itself (the API tap)."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, message)


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
