"""The one caller of `group_send` in archviz: everything a browser hears goes out through `send` or
`send_from_loop`, called only by archviz.publish and archviz.publisher, after what is sent was stored (a pull's
progress is the one transient exception). Keep it that way: a browser that reconnects resyncs from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import Future
from typing import Any

from asgiref.sync import AsyncToSync, SyncToAsync
from channels.layers import BaseChannelLayer, get_channel_layer

# The groups: the live diagram (numbered publications) and the inventory (per-host revisions, pulls' progress).
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


_worker = threading.local()


def serve_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Make `send` on the calling thread (a worker thread of the loop's own, such as the publisher's) hand its sends
    to `loop`."""
    _worker.loop = loop


def _calling_event_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that handed this thread its work (`serve_loop`, or asgiref's record for sync_to_async), if it
    runs."""
    loop = getattr(_worker, "loop", None)
    if loop is None and getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) == os.getpid():
        loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


_order = threading.Lock()
_previous: tuple[asyncio.AbstractEventLoop, Future[None]] | None = None


def _send_in_order(loop: asyncio.AbstractEventLoop, layer: BaseChannelLayer, group: str,
                   message: dict[str, Any]) -> None:
    """Hand the send to the event loop without waiting for it (the committing request need not wait for the
    browsers), but strictly after the previous send on the same loop, so that frames keep the order of the
    commits. (A send handed to a loop that stopped before running it never ends: it is not waited for.)"""
    global _previous
    with _order:
        previous = _previous[1] if _previous is not None and _previous[0] is loop else None

        async def send() -> None:
            if previous is not None and not previous.done():  # (awaiting a done one would cost a loop turn)
                # Only the order matters here: a send that failed has been logged by the loop already.
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(previous)
            await layer.group_send(group, message)

        _previous = (loop, asyncio.run_coroutine_threadsafe(send(), loop))
