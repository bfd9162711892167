"""Sends from synchronous code reach the group in the order they were made, and a send handed to an event loop
that stopped before running it (a process's loop ending, a test's) never holds up the sends of the next loop."""

from __future__ import annotations

import asyncio
import threading

from channels.layers import get_channel_layer

from archviz import broadcast
from tests.scaleout_helpers import in_own_loop


def send_from_a_worker_thread(loop: asyncio.AbstractEventLoop, messages: list[dict]) -> None:
    """`send` as the publisher's thread calls it: from a thread that serves `loop`."""

    def work() -> None:
        broadcast.serve_loop(loop)
        for message in messages:
            broadcast.send("ordered", message)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


async def received(channel: str, count: int) -> list[int]:
    layer = get_channel_layer()
    return [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(count)]


def a_loop_that_stops_before_running_what_it_was_handed() -> None:
    """A loop is handed a send while it does its last piece of work, then stops and is closed."""
    loop = asyncio.new_event_loop()
    busy, done = threading.Event(), threading.Event()

    def last_work() -> None:
        busy.set()
        done.wait(5)
        loop.stop()  # what was handed meanwhile waits for a next turn that never comes

    running = threading.Thread(target=loop.run_forever)
    running.start()
    loop.call_soon_threadsafe(last_work)
    busy.wait(5)
    send_from_a_worker_thread(loop, [{"type": "t", "n": 0}])
    done.set()
    running.join(5)
    loop.close()


def test_sends_keep_their_order_and_a_stopped_loop_does_not_hold_up_the_next() -> None:
    a_loop_that_stops_before_running_what_it_was_handed()

    async def next_loop() -> list[int]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("ordered", channel)
        await asyncio.to_thread(send_from_a_worker_thread, asyncio.get_running_loop(),
                                [{"type": "t", "n": n} for n in range(1, 51)])
        return await received(channel, 50)

    assert in_own_loop(next_loop()) == list(range(1, 51))
