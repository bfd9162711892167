from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from archviz.frames import FrameError, error_frame, observations_frame, parse_client_frame, snapshot_frame
from archviz.publish import LIVE_GROUP
from archviz.sequence import sequence
from archviz.snapshot import newest_observations, watcher_states


@database_sync_to_async
def _snapshot() -> str:
    observations, seq = newest_observations(settings.ARCHVIZ_SNAPSHOT_SIZE)
    return snapshot_frame(observations, watcher_states(), seq, sequence(observations).to_wire())


class LiveConsumer(AsyncWebsocketConsumer):
    """/ws/live/: a snapshot on connect and on request, then every published observation."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if settings.ARCHVIZ_REQUIRE_LOGIN and not (user and user.is_authenticated):
            await self.close()
            return
        # Join before reading the snapshot, so nothing published in between is missed.
        await self.channel_layer.group_add(LIVE_GROUP, self.channel_name)
        await self.accept()
        await self.send(text_data=await _snapshot())

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(LIVE_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            parse_client_frame(text_data, bytes_data)
        except FrameError as error:
            await self.send(text_data=error_frame(str(error)))
            return
        await self.send(text_data=await _snapshot())

    async def observations_added(self, message: dict[str, Any]) -> None:
        await self.send(text_data=observations_frame(message["observations"], message["sequence"]))
