from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from archviz import actions
from archviz.architecture.gather import host_from_query, map_state
from archviz.audit import tail
from archviz.audit.query import AuditFilter
from archviz.broadcast import INVENTORY_GROUP, LIVE_GROUP
from archviz.frames import (
    RESYNC_CLOSE,
    ClientFrame,
    FrameError,
    error_frame,
    parse_client_frame,
    publication_frame,
    snapshot_frame,
)
from archviz.metrics import BEHIND_CLOSED, RESYNCS, WEBSOCKET_CLIENTS
from archviz.query import QueryError, parameters
from archviz.snapshot import inventory_snapshot, live_snapshot, watcher_states

# The map asks for a fresh state at most this often while things change (inventory, clients, registry contents).
REFRESH_AFTER = 0.25
# Observations from these sources change what the map's boxes say (clients, registry contents, whether a daemon
# answers); the daemon's own events change it through the inventory, which says so itself.
CHANGES_BOXES = frozenset({"tap", "action", "registry", "watcher"})
MAX_QUERY_FIELDS = 8


@database_sync_to_async
def _snapshot() -> tuple[int, str]:
    observations, seq, diagram = live_snapshot(settings.ARCHVIZ_SNAPSHOT_SIZE)
    return seq, snapshot_frame(observations, watcher_states(), seq, diagram)


@database_sync_to_async
def _inventory_snapshot() -> str:
    return json.dumps({"type": "inventory-snapshot", "hosts": inventory_snapshot(), "pulls": actions.pulls()})


class SnapshotConsumer(AsyncWebsocketConsumer):
    """Join groups, send a snapshot on connect and on request, then relay what the groups hear."""

    # Not channels' own `groups`: that joins before `connect` decides whether the socket may be accepted at all.
    group_names: tuple[str, ...] = ()
    socket_name = ""  # for the metrics: live, inventory, map
    _counted = False

    async def snapshot(self) -> str:
        raise NotImplementedError

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As channels' own, without its hop to a worker thread (to close stale database connections) before each
        message: these consumers reach the database only through database_sync_to_async, which does that itself.
        With a hundred pages open the hops were a fifth of a web process's work (bench/scaleout.py)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def allowed(self) -> bool:
        user = self.scope.get("user")
        return not settings.ARCHVIZ_REQUIRE_LOGIN or bool(user and user.is_authenticated)

    async def connect(self) -> None:
        if not self.allowed():
            await self.close()
            return
        await self.join()

    async def join(self) -> None:
        # Join before reading the snapshot, so nothing published in between is missed.
        for group in self.group_names:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        WEBSOCKET_CLIENTS.labels(self.socket_name).inc()
        self._counted = True
        await self.send(text_data=await self.snapshot())

    async def disconnect(self, code: int) -> None:
        if self._counted:
            WEBSOCKET_CLIENTS.labels(self.socket_name).dec()
            self._counted = False
        for group in self.group_names:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_client_frame(text_data, bytes_data)
        except FrameError as error:
            await self.send(text_data=error_frame(str(error)))
            return
        if frame.type == "resync":
            RESYNCS.labels(self.socket_name).inc()
            await self.send(text_data=await self.snapshot())
        else:
            self.acknowledged(frame)

    def acknowledged(self, frame: ClientFrame) -> None:
        """The browser says how far it has applied what it was sent (only the live socket keeps count)."""


class LiveConsumer(SnapshotConsumer):
    """/ws/live/: the newest published observations and their diagram, then every publication, numbered."""

    group_names = (LIVE_GROUP,)
    socket_name = "live"
    applied = 0  # the newest publication the browser says it has (a snapshot counts as applied when sent)
    behind = False

    async def snapshot(self) -> str:
        seq, frame = await _snapshot()
        self.applied = max(self.applied, seq)
        return frame

    def acknowledged(self, frame: ClientFrame) -> None:
        self.applied = max(self.applied, frame.seq)

    async def observations_added(self, message: dict[str, Any]) -> None:
        if self.behind:
            return
        if message["seq"] - self.applied > settings.ARCHVIZ_SOCKET_LAG_LIMIT:
            # The browser does not read (or not fast enough): stop queueing for it; it reconnects to a snapshot.
            self.behind = True
            BEHIND_CLOSED.labels(self.socket_name).inc()
            await self.close(code=RESYNC_CLOSE, reason="resync: this page fell behind")
            return
        await self.send(text_data=publication_frame(message))


class InventoryConsumer(SnapshotConsumer):
    """/ws/inventory/: every host's inventory, then each stored change set with the host's new revision."""

    group_names = (INVENTORY_GROUP,)
    socket_name = "inventory"

    async def snapshot(self) -> str:
        return await _inventory_snapshot()

    async def pull_progress(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "pull", "pull": message["pull"]}))

    async def inventory_changed(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({
            "type": "inventory", "host": message["host"], "revision": message["revision"],
            "reload": message["reload"], "changes": message["changes"],
        }))


@database_sync_to_async
def _map_snapshot(only: str | None) -> str:
    return json.dumps({"type": "map", "state": map_state(only)})


def _query(scope: dict[str, Any]) -> dict[str, str]:
    try:
        pairs = parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise QueryError("too many query parameters: the map takes only host") from None
    return dict(pairs)


class MapConsumer(SnapshotConsumer):
    """/ws/map/[?host=…]: the architecture map's state, then what each published Message lights (`map-traffic`),
    each pull's progress (`map-pull`), and a fresh state whenever what the boxes show may have changed: at once
    when a Message brings a new participant (its box must be drawn before its edge lights), otherwise at most
    every REFRESH_AFTER seconds."""

    group_names = (LIVE_GROUP, INVENTORY_GROUP)
    socket_name = "map"
    only: str | None = None
    _pending: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        if not self.allowed():
            await self.close()
            return
        try:
            self.only = host_from_query(_query(self.scope))
        except QueryError as error:
            await self.accept()
            await self.send(text_data=error_frame(str(error)))
            await self.close(code=4400)
            return
        self._sending = asyncio.Lock()
        await self.join()

    async def disconnect(self, code: int) -> None:
        if self._pending is not None:
            self._pending.cancel()
        await super().disconnect(code)

    async def snapshot(self) -> str:
        return await _map_snapshot(self.only)

    async def send_state(self) -> None:
        # One at a time, so that an older state is never sent after a newer one.
        async with self._sending:
            await self.send(text_data=await self.snapshot())

    def refresh_soon(self) -> None:
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_task(self._refresh_later())

    async def _refresh_later(self) -> None:
        await asyncio.sleep(REFRESH_AFTER)
        self._pending = None  # what changes from here on asks for another refresh
        await self.send_state()

    async def observations_added(self, message: dict[str, Any]) -> None:
        if message["sequence"]["participants"]:
            await self.send_state()
        elif any(o["source"] in CHANGES_BOXES for o in message["observations"]):
            self.refresh_soon()
        if message.get("traffic"):
            await self.send(text_data=json.dumps({"type": "map-traffic", "traffic": message["traffic"]}))

    async def inventory_changed(self, message: dict[str, Any]) -> None:
        if self.only is None or message["host"] == self.only:
            self.refresh_soon()

    async def pull_progress(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "map-pull", "pull": message["pull"]}))


def _audit_filter(scope: dict[str, Any]) -> AuditFilter:
    """The audit page's filter, from the socket's query string, checked as the page checks it."""
    try:
        lists = parse_qs(scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True,
                         max_num_fields=len(AuditFilter.PARAMETERS))
    except ValueError:
        raise QueryError(f"too many query parameters: this socket takes {', '.join(AuditFilter.PARAMETERS)}") from None
    return AuditFilter.from_query(parameters(lists, AuditFilter.PARAMETERS))


class AuditConsumer(SnapshotConsumer):
    """/ws/audit/[?filter]: the audit page's live tail. A snapshot (`audit-snapshot`: the newest page of the filter
    and the number of the newest publication), then, for every publication of the live group, an `audit` frame with
    the same number and the audit rows of the filter it brought (none for most): a browser that sees a number
    skipped asks for a fresh snapshot, as the live page does. A bad filter gets an error frame and code 4400."""

    group_names = (LIVE_GROUP,)
    socket_name = "audit"
    audit_filter = AuditFilter()

    async def connect(self) -> None:
        if not self.allowed():
            await self.close()
            return
        try:
            self.audit_filter = _audit_filter(self.scope)
        except QueryError as error:
            await self.accept()
            await self.send(text_data=error_frame(str(error)))
            await self.close(code=4400)
            return
        await self.join()

    async def snapshot(self) -> str:
        return json.dumps(await database_sync_to_async(tail.snapshot)(self.audit_filter))

    async def observations_added(self, message: dict[str, Any]) -> None:
        frame: dict[str, Any] = {"type": "audit", "seq": message["seq"]}
        if tail.brings_events(message["observations"]):
            frame["events"] = await database_sync_to_async(tail.added)(self.audit_filter, message["observations"])
        await self.send(text_data=json.dumps(frame))
