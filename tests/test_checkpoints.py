"""SQLite's write-ahead log is copied back by serve's checkpointer, on a thread of its own, rather than inside a
commit a registry or a daemon's event waits on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from archviz import checkpoints
from archviz.checkpoints import Checkpoint, Checkpointer, checkpoint
from archviz.observation import Observation, Source
from archviz.publish import publish

pytestmark = pytest.mark.django_db(transaction=True)


def store_events(count: int = 200) -> None:
    publish([Observation(time_ns=1_700_000_000_000_000_000 + number, source=Source.DAEMON, host="lab",
                         kind="container-start", subject=f"c{number}", attributes={"number": number}, correlation="")
             for number in range(count)])


@pytest.fixture
def no_writer_checkpoints() -> Iterator[None]:
    """This connection's commits never copy the log back themselves (as if the log were still short)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (pages,) = cursor.fetchone()
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")


def test_a_checkpoint_copies_back_all_the_log_holds(no_writer_checkpoints: None) -> None:
    store_events()
    done = checkpoint()
    assert not done.busy
    assert done.logged > 0 and done.copied == done.logged


@pytest.mark.asyncio
async def test_serves_checkpointer_copies_back_what_was_written_and_stops_when_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoints, "INTERVAL", 0.05)
    made: list[Checkpoint] = []

    def recorded() -> Checkpoint:
        made.append(checkpoint())
        return made[-1]

    monkeypatch.setattr(checkpoints, "checkpoint", recorded)
    await database_sync_to_async(store_events)()
    checkpointer = Checkpointer()
    running = asyncio.create_task(checkpointer.run())
    try:
        for _ in range(100):
            if any(done.logged and done.copied == done.logged for done in made):
                break
            await asyncio.sleep(0.05)
        assert any(done.logged and done.copied == done.logged for done in made), made
    finally:
        checkpointer.stop()
        await asyncio.wait_for(running, 2)
