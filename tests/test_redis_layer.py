"""With REDIS_URL set, the live socket works through a real redis-server: a browser left idle longer than redis-py's
default read timeout (5 s, which used to close every idle socket with 1011) still hears what is published."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from archviz.observation import Observation, Source
from archviz.publish import publish
from dashboard.asgi import application
from dashboard.env import channel_layer
from tests.scaleout_helpers import Redis

pytestmark = [pytest.mark.scaleout, pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://127.0.0.1")]
# Past redis-py 8's default socket_timeout (5 s) and channels_redis's blocking pop (5 s).
IDLE_SECONDS = 6.5


async def test_a_socket_left_idle_past_the_redis_read_timeout_still_hears_what_is_published(redis: Redis) -> None:
    with override_settings(CHANNEL_LAYERS={"default": channel_layer(redis.url)}):
        communicator = WebsocketCommunicator(application, "/ws/live/", headers=ORIGIN)
        ok, _ = await communicator.connect()
        assert ok
        assert (await communicator.receive_json_from())["type"] == "snapshot"
        await asyncio.sleep(IDLE_SECONDS)
        assert await communicator.receive_nothing(timeout=0.1)

        await database_sync_to_async(publish)([Observation(
            time_ns=time.time_ns(), source=Source.DAEMON, host="unix:///idle.sock", kind="container-start",
            subject="idle", attributes={"name": "idle"},
        )])
        frame = await communicator.receive_json_from(timeout=10)
        assert frame["type"] == "observations"
        assert [o["subject"] for o in frame["observations"]] == ["idle"]
        await communicator.disconnect()
