from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from archviz import actions
from archviz.frames import FrameError, error_frame, observations_frame, parse_client_frame, snapshot_frame
from archviz.publish import INVENTORY_GROUP, LIVE_GROUP
from archviz.sequence import sequence
from archviz.snapshot import inventory_snapshot, newest_observations, watcher_states


@database_sync_to_async
def _snapshot() -> str:
    observations, seq = newest_observations(settings.ARCHVIZ_SNAPSHOT_SIZE)
    return snapshot_frame(observations, watcher_states(), seq, sequence(observations).to_wire())


@database_sync_to_async
def _inventory_snapshot() -> str:
    return json.dumps({"type": "inventory-snapshot", "hosts": inventory_snapshot(), "pulls": actions.pulls()})


class SnapshotConsumer(AsyncWebsocketConsumer):
    """Join a group, send a snapshot on connect and on request, then relay what the group hears."""

    group = ""

    async def snapshot(self) -> str:
        raise NotImplementedError

    async def connect(self) -> None:
        user = self.scope.get("user")
        if settings.ARCHVIZ_REQUIRE_LOGIN and not (user and user.is_authenticated):
            await self.close()
            return
        # Join before reading the snapshot, so nothing published in between is missed.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=await self.snapshot())

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            parse_client_frame(text_data, bytes_data)
        except FrameError as error:
            await self.send(text_data=error_frame(str(error)))
            return
        await self.send(text_data=await self.snapshot())


class LiveConsumer(SnapshotConsumer):
    """/ws/live/: the newest observations and their diagram, then every published observation."""

    group = LIVE_GROUP

    async def snapshot(self) -> str:
        return await _snapshot()

    async def observations_added(self, message: dict[str, Any]) -> None:
        await self.send(text_data=observations_frame(message["observations"], message["sequence"]))


class InventoryConsumer(SnapshotConsumer):
    """/ws/inventory/: every host's inventory, then each stored change set with the host's new revision."""

    group = INVENTORY_GROUP

    async def snapshot(self) -> str:
        return await _inventory_snapshot()

    async def pull_progress(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "pull", "pull": message["pull"]}))

    async def inventory_changed(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({
            "type": "inventory", "host": message["host"], "revision": message["revision"],
            "reload": message["reload"], "changes": message["changes"],
        }))
