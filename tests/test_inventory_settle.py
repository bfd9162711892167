"""The inventory waits for a burst of daemon events to pass, then refreshes what the whole burst touched, in
order: its calls to the daemon and its writes stay off the events' way to the browsers."""

from __future__ import annotations

import asyncio

import pytest

from archviz.watcher import INVENTORY_LAG_S, INVENTORY_SETTLE_S, STOP, DaemonWatcher

# Marked like the other asyncio modules (which run after the session's Playwright browser has started).
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def job(number: int) -> dict[str, object]:
    return {"kind": "container-start", "attributes": {"n": number}}


async def test_a_burst_is_refreshed_once_it_is_quiet_in_the_order_it_came() -> None:
    watcher = DaemonWatcher("unix:///nowhere.sock")
    for number in range(3):
        watcher._inbox.put_nowait(job(number))

    async def later() -> None:
        await asyncio.sleep(INVENTORY_SETTLE_S / 2)
        watcher._inbox.put_nowait(job(3))
        await asyncio.sleep(INVENTORY_SETTLE_S * 5)
        watcher._inbox.put_nowait(job(4))

    sender = asyncio.create_task(later())
    assert await watcher._settled_jobs() == [job(0), job(1), job(2), job(3)]
    assert await watcher._settled_jobs() == [job(4)]
    await sender


async def test_a_daemon_that_never_pauses_still_gets_its_inventory_refreshed() -> None:
    watcher = DaemonWatcher("unix:///nowhere.sock")

    async def busy() -> None:
        for number in range(1000):
            watcher._inbox.put_nowait(job(number))
            await asyncio.sleep(INVENTORY_SETTLE_S / 4)

    sender = asyncio.create_task(busy())
    loop = asyncio.get_running_loop()
    started = loop.time()
    jobs = await watcher._settled_jobs()
    assert loop.time() - started < INVENTORY_LAG_S * 2
    assert jobs == [job(number) for number in range(len(jobs))]
    sender.cancel()


async def test_a_stop_ends_the_wait_at_once() -> None:
    watcher = DaemonWatcher("unix:///nowhere.sock")
    watcher._inbox.put_nowait(job(0))
    watcher._inbox.put_nowait(STOP)
    watcher._inbox.put_nowait(job(1))
    assert await asyncio.wait_for(watcher._settled_jobs(), INVENTORY_SETTLE_S / 2) == [job(0), STOP]
