"""Helpers for tests that watch the real lab from inside the test's own event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from channels.db import database_sync_to_async

from archviz.models import StoredObservation
from archviz.watcher import Backoff, DaemonWatcher

T = TypeVar("T")
QUICK = Backoff(first=0.05, factor=2.0, longest=0.5)


class RunningWatcher:
    def __init__(self, address: str, backoff: Backoff = QUICK) -> None:
        self.watcher = DaemonWatcher(address, backoff)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DaemonWatcher:
        self.task = asyncio.create_task(self.watcher.run())
        return self.watcher

    async def __aexit__(self, *exc: object) -> None:
        self.watcher.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=15)


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 15.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


@database_sync_to_async
def stored(**filters: object) -> list[StoredObservation]:
    return list(StoredObservation.objects.filter(**filters).order_by("id"))
