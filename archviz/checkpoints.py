"""SQLite's write-ahead log copied back into the database on a thread of its own, not by a commit someone waits on.

With WAL, SQLite copies the log back into the database (a checkpoint, ending with an fsync) on the commit that finds
the log over `wal_autocheckpoint` pages (dashboard.env). That commit is whichever one a registry's delivery or a
daemon's event happens to be in: 20–30 ms here, every 600 or so single-event deliveries (bench/registry_ingest.py).
`serve` runs a `Checkpointer` (on SQLite every other process shares serve's database): every INTERVAL a PASSIVE
checkpoint on a thread and connection of its own (it waits for no reader and holds up no writer), so the log seldom
grows to that size. A writer's own checkpoint stays as the fallback, should this one fall behind (a reader holding an
old snapshot, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from django.db import DatabaseError, close_old_connections, connection

log = logging.getLogger(__name__)

INTERVAL = 0.25


class Checkpoint(NamedTuple):
    """What `PRAGMA wal_checkpoint` answers: whether it could not run at all (another checkpoint was running), the
    pages in the log, and how many of them are in the database now."""

    busy: bool
    logged: int
    copied: int


def checkpoint() -> Checkpoint:
    """Copy into the database what the log holds that no reader still needs (a PASSIVE checkpoint)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, logged, copied = cursor.fetchone()
    return Checkpoint(bool(busy), logged, copied)


class Checkpointer:
    """Checkpoints every INTERVAL on its own thread while `run` runs (on SQLite; elsewhere it returns at once)."""

    def __init__(self) -> None:
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        if connection.vendor != "sqlite":
            return
        loop = asyncio.get_running_loop()
        thread = ThreadPoolExecutor(1, thread_name_prefix="checkpoints")
        try:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), INTERVAL)
                await loop.run_in_executor(thread, _checkpoint_on_own_thread)
        finally:
            await loop.run_in_executor(thread, _close_connection)
            thread.shutdown()

    def stop(self) -> None:
        self._stopping.set()


def _checkpoint_on_own_thread() -> None:
    close_old_connections()
    try:
        checkpoint()
    except DatabaseError:  # a writer's own checkpoint still keeps the log bounded
        log.exception("checkpointing SQLite's write-ahead log failed; trying again in %s s", INTERVAL)


def _close_connection() -> None:
    connection.close()  # this thread's own
