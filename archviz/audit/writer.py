"""The registry webhooks' writer (archviz.hooks): one thread that stores each delivery, then makes the stored events'
Observations and publishes them.

One thread of its own: SQLite takes one writer at a time anyway, the thread keeps one connection, and it is the one
woken each time (waking any of the loop's pool cost more, measured). What it publishes it sends through the loop
that handed it the work (archviz.broadcast.serve_loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from django.db import DatabaseError, close_old_connections

from archviz.audit.ingest import Outcome, ingest, observe, observe_missing, record_refusal
from archviz.broadcast import serve_loop
from archviz.leadership import on_postgresql
from archviz.publisher import PUBLISHER
from archviz.sources.registry import Delivery, RegistryEvent

log = logging.getLogger(__name__)
T = TypeVar("T")


def store(delivery: Delivery, sender: str) -> Outcome:
    # Outside Django's request cycle: keep its connection hygiene (drop a broken or expired connection). Once,
    # after the work: this thread does nothing else.
    try:
        # Observed and published by this thread (no hop to the publisher's thread): a moment later, once for all
        # stored meanwhile, where `serve` runs (see LINGER); elsewhere (tests, scripts) before answering.
        later = PUBLISHER.publishes_later()
        with PUBLISHER.publishing_here(more_waiting=later):
            outcome = ingest(delivery, sender, observed=not later)
        if later:
            _unobserved.events.extend(outcome.fresh)
        return outcome
    finally:
        close_old_connections()


class _Unobserved:
    """Events stored, their Observations still to be made (touched on the writer thread only)."""

    def __init__(self) -> None:
        self.events: list[RegistryEvent] = []
        # Set when making them failed: they are forgotten (not kept growing while the failure lasts) and looked for
        # among the newest events stored instead, next time.
        self.lost = False

    def observe(self) -> None:
        try:
            if self.lost:
                observe_missing()
            elif self.events:
                observe(self.events)
        except Exception:
            self.lost = True
            raise
        else:
            self.lost = False
        finally:
            self.events.clear()


_unobserved = _Unobserved()


def publish_stored() -> None:
    try:
        with PUBLISHER.publishing_here(more_waiting=True):
            _unobserved.observe()
        PUBLISHER.tail()
    except Exception:  # what was stored stays stored: the next publication (after the next delivery), or serve's
        # next start, makes the Observations; the leader's loop publishes what is stored within POLL_SECONDS
        log.exception("could not observe or publish what the registry webhook stored; trying again after the next "
                      "delivery")
    finally:
        close_old_connections()


def start_catching_up(loop: asyncio.AbstractEventLoop) -> None:
    """As `serve` starts: `catch_up` on the writer thread (on SQLite: on PostgreSQL each event's Observation is
    made with it)."""
    if not on_postgresql():
        _writer.submit(_serving, loop, catch_up)


def catch_up() -> None:
    """Make the Observations a stop left unmade (events stored in the LINGER before it) and publish them."""
    try:
        with PUBLISHER.publishing_here():
            made = observe_missing()
        if made:
            log.warning("made the Observations of %d registry events stored just before serve last stopped", made)
    except Exception:
        log.exception("could not make the Observations of the registry events stored before serve last stopped")
    finally:
        close_old_connections()


# A registry delivers one event at a time and waits for each answer. So the Observations of what the webhook
# stores are made and published on the writer thread LINGER seconds after the first store not yet published, once
# for all stored meanwhile: in-process, storing an event with its Observation took 356-420 us and without it 202-254,
# its Observation made in a batch of twenty 65 us, a publication of one 200 us and of twenty 43 us an event. Work
# between two stores, on the same thread, never contends with them for SQLite's write lock or for the interpreter
# (on another thread it did both). A live page draws a registry's events at most LINGER late.
LINGER = 0.02


class Lingering:
    """The publication due after the webhook's stores (touched on the event loop only)."""

    def __init__(self) -> None:
        self._due: asyncio.AbstractEventLoop | None = None  # the loop it is due on (not one that stopped since)

    def stored(self) -> None:
        loop = asyncio.get_running_loop()
        if self._due is not loop and PUBLISHER.publishes_later():
            self._due = loop
            loop.call_later(LINGER, self._publish, loop)

    def _publish(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = None
        _writer.submit(_serving, loop, publish_stored)


lingering = Lingering()


def count_refusal(cause: str, sender: str, source: str, status: int) -> None:
    try:
        record_refusal(cause, status, sender, source)
    except DatabaseError:
        # The refusal is answered all the same; only its count on the audit page is missing.
        log.exception("could not count a refused %s delivery (%s from %s)", source, cause, sender)
    finally:
        close_old_connections()


_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="registry-webhook")


async def on_writer(function: Callable[..., T], *args: object) -> T:
    """Run on the writer thread, which sends what it publishes through this loop (asgiref's SyncToAsync added a
    fifth to the hop: bench/registry_ingest.py)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_writer, partial(_serving, loop, function, *args))


def _serving(loop: asyncio.AbstractEventLoop, function: Callable[..., T], *args: object) -> T:
    serve_loop(loop)
    return function(*args)
