"""The one publisher: it folds the store, in id order, into numbered publications that every web process forwards.

However many processes store observations (watchers, taps, web processes taking registry notifications and
dashboard pulls), attribution and sequencing happen once, here, in the process that leads
(archviz.leadership):
1. Read the observations stored after the newest publication, in id order (archviz.publish makes ids commit in
   order).
2. Fold them through this process's live Sequencer: the Messages, new participants and touched interactions they
   make, and what each Message lights on the map.
3. Store that as the next Publication (its `seq` one more than the newest), in the same transaction that checked
   the newest one: if another process published meanwhile, the Sequencer is first rebuilt from the store, so two
   leaders (a handover, a lost link) can never publish two versions of one number.
4. After the commit, broadcast it on the live group (archviz.broadcast, the one caller of group_send).
A browser's snapshot is the merge of the same publications (archviz.snapshot), so what a browser is shown on
(re)connecting is exactly what the others were sent.

`run` is the leader's loop; `serve` and `watch` run it. A process that stores something calls `stored` after the
commit: where the loop runs, that only wakes it, and the loop publishes on a thread of its own (the storing thread
goes back to its work at once, and a burst stored meanwhile is folded into one publication); elsewhere (a script, a
test), and on a thread that stores for a source of its own (`publishing_here`: a watcher's writer), `stored`
publishes on the calling thread. Other processes' stores reach the leader by PostgreSQL's NOTIFY or,
on SQLite, by polling. `tap` never publishes (its requests must reach the store before the daemon's events they
cause, so it spends its time on nothing else).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from archviz import sql
from archviz.architecture.traffic import traffic
from archviz.broadcast import LIVE_GROUP, send, serve_loop
from archviz.leadership import PUBLISHING_LOCK, Leadership, on_postgresql
from archviz.metrics import PUBLICATIONS, PUBLISH_LATENCY
from archviz.models import WIRE_FIELDS, Publication, StoredObservation, wire_of
from archviz.sequence import Delta, Sequencer

log = logging.getLogger(__name__)

# At most this many observations go into one publication (one frame).
BATCH = 500
# Publications older than the newest KEEP are deleted now and then: a snapshot needs at most the newest
# ARCHVIZ_SNAPSHOT_SIZE (each accounts for at least one observation).
KEEP = 10_000
PRUNE_EVERY = 1_000
WIRE_COLUMNS = ("id", *WIRE_FIELDS)
PUBLICATION_COLUMNS = ("seq", "first_observation", "last_observation", "sequence", "traffic", "published_ns")
# Without PostgreSQL's NOTIFY, the leader looks at the store this often for what other processes stored.
POLL_SECONDS = 0.25
# How a thread inside `publishing_here` publishes what it stores.
HERE, DEFER = "here", "defer"


class Publisher:
    """Folds what is stored into publications, when this process leads. Thread-safe."""

    def __init__(self) -> None:
        self.leadership = Leadership()
        # With the in-memory channel layer only a process that serves websockets can reach a browser: `watch` and
        # `tap` then leave publishing to `serve`.
        self.may_lead = True
        self._lock = threading.Lock()
        self._sequencer: Sequencer | None = None
        self._newest = (0, 0)  # (seq, last observation) of the newest publication this process made
        self._stopping: asyncio.Event | None = None
        # Set by `stored` while `run` runs: the loop, and the news that something was stored.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._news: asyncio.Event | None = None
        self._here = threading.local()
        self._on_postgresql = False  # set by `run`, read while it runs

    def stored(self) -> None:
        """Something was stored (called after the commit): publish it, on the loop's thread where `run` runs here."""
        loop, news = self._loop, self._news
        here = getattr(self._here, "mode", None)
        if loop is not None and news is not None and loop.is_running() and (here is None or self._on_postgresql):
            # The loop publishes: woken here, or on PostgreSQL by the NOTIFY every store sends, wherever the leader
            # runs (a storing thread publishing too would race the leader's loop for each store: single-event
            # ingest 192 against 287 events/s, bench/registry_ingest.py).
            loop.call_soon_threadsafe(news.set)
        elif here != DEFER:
            self.tail()

    def publishes_later(self) -> bool:
        """Whether a thread storing a stream of deliveries may publish them a moment later, all at once (storing
        in `publishing_here(more_waiting=True)`, then calling `tail`): where the leader's loop runs in this process
        (should that moment not come, the loop publishes them within POLL_SECONDS) and on SQLite (on PostgreSQL that
        loop publishes each store at once all the same, woken by its NOTIFY)."""
        loop = self._loop
        return loop is not None and loop.is_running() and not self._on_postgresql

    @contextlib.contextmanager
    def publishing_here(self, *, more_waiting: bool = False) -> Iterator[None]:
        """Within it, what the calling thread stores is published on that thread, before its next store; or, when
        `more_waiting` (the thread has more to store soon), later, by whatever publishes next on that thread (a store
        without `more_waiting`, or `tail`): one publication for a burst. (Should none come, the leader's loop
        publishes it within POLL_SECONDS.) On PostgreSQL the leader's loop publishes all the same: it hears each
        store's NOTIFY at once."""
        self._here.mode = DEFER if more_waiting else HERE
        try:
            yield
        finally:
            self._here.mode = None

    def tail(self) -> int:
        """Publish what is stored beyond the newest publication, if this process leads; how many it made."""
        if not self.may_lead or not self.leadership.held():
            return 0
        made = 0
        with self._lock:
            more = True
            while more:
                more, published = self._publish_next()
                made += published
        return made

    def reset(self) -> None:
        """Forget the live fold (tests start each from an empty store)."""
        with self._lock:
            self._sequencer = None
            self._newest = (0, 0)

    async def run(self) -> None:
        """The leader's loop: take the lead when it is free, then publish what any process stores, until `stop`."""
        self._stopping = asyncio.Event()
        news = asyncio.Event()
        loop = asyncio.get_running_loop()
        # One thread of its own, with its own database connection: never queued behind the views' thread.
        publishing = ThreadPoolExecutor(1, thread_name_prefix="publisher", initializer=serve_loop, initargs=(loop,))
        self._loop, self._news = loop, news
        self._on_postgresql = on_postgresql()  # (asked once: through Django's connection proxy it cost microseconds)
        try:
            while not self._stopping.is_set():
                if not self.may_lead:
                    await self._pause(POLL_SECONDS * 4)
                    continue
                news.clear()
                try:
                    await loop.run_in_executor(publishing, self._tail_on_own_thread)  # takes the lead when free
                except Exception:  # the store is down: try again, the store keeps what waits to be published
                    log.exception("publishing failed; trying again")
                    await self._pause(1.0)
                    continue
                if not self.leadership.holding():
                    await self._pause(POLL_SECONDS * 4)
                elif on_postgresql():  # NOTIFY tells of every process's stores, this one's too
                    await asyncio.to_thread(self.leadership.wait_for_news, POLL_SECONDS)
                else:
                    await self._until(news, POLL_SECONDS)
        finally:
            self._loop = self._news = None
            await loop.run_in_executor(publishing, _close_connection)
            publishing.shutdown()
            self.leadership.release()

    def stop(self) -> None:
        """Stop `run` (on its loop's thread), at once: not after its wait for news."""
        if self._stopping is not None:
            self._stopping.set()
        if self._news is not None:
            self._news.set()

    async def _pause(self, seconds: float) -> None:
        assert self._stopping is not None
        await self._until(self._stopping, seconds)

    async def _until(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def _tail_on_own_thread(self) -> int:
        close_old_connections()  # a connection PostgreSQL dropped is replaced, as for each request
        try:
            return self.tail()
        finally:
            close_old_connections()

    def _publish_next(self) -> tuple[bool, bool]:
        """Publish the next batch; (whether more may wait, whether a publication was made). A batch smaller than
        BATCH took all there was: a store that commits after it calls `tail` itself."""
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    if on_postgresql():
                        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PUBLISHING_LOCK])
                    newest = sql.newest(cursor, Publication, ("seq", "last_observation"), "seq")
                    seq, through = newest or (0, _start())
                    rows = sql.after(cursor, StoredObservation, WIRE_COLUMNS, "id", through, BATCH)
                    if not rows:
                        return False, False
                    if self._sequencer is None or (seq, through) != self._newest:
                        self._sequencer = _rebuilt(through)
                    observations = [wire_of(*row) for row in rows]
                    delta = _fold(self._sequencer, observations)
                    roles = {p.id: p.role for p in self._sequencer.participants.values()}
                    number, sequence, lit = seq + 1, delta.to_wire(), traffic(delta.messages, roles)
                    sql.insert(cursor, Publication, PUBLICATION_COLUMNS,
                               (number, rows[0][0], rows[-1][0], sequence, lit, time.time_ns()))
                if number % PRUNE_EVERY == 0:
                    Publication.objects.filter(seq__lte=number - KEEP).delete()
                transaction.on_commit(partial(_broadcast, number, sequence, lit, observations))
        except BaseException:
            self._sequencer = None  # it folded what was not published: start again from the store
            raise
        self._newest = (number, rows[-1][0])
        return len(rows) == BATCH, True


def unpublished() -> int:
    """How many stored observations wait to be published (the same from every process: it reads the store)."""
    newest = Publication.objects.order_by("-seq").values_list("last_observation", flat=True).first()
    return StoredObservation.objects.filter(id__gt=newest or 0).count()


def _start() -> int:
    """With nothing published yet, publishing starts with the newest ARCHVIZ_SNAPSHOT_SIZE observations."""
    ids = StoredObservation.objects.order_by("-id").values_list("id", flat=True)
    first = ids[settings.ARCHVIZ_SNAPSHOT_SIZE - 1: settings.ARCHVIZ_SNAPSHOT_SIZE].first()
    return first - 1 if first is not None else 0


def _rebuilt(through: int) -> Sequencer:
    """A Sequencer that has seen the newest observations up to `through`, so interactions already under way are
    continued, not cut in two."""
    sequencer = Sequencer()
    earlier = StoredObservation.objects.filter(id__lte=through).order_by("-id")[: settings.ARCHVIZ_SNAPSHOT_SIZE]
    for row in reversed(earlier):
        sequencer.add(row.to_wire())
    return sequencer


def _close_connection() -> None:
    connection.close()


def _fold(sequencer: Sequencer, observations: list[dict[str, Any]]) -> Delta:
    merged = Delta()
    for observation in observations:
        delta = sequencer.add(observation)
        merged.participants += delta.participants
        merged.messages += delta.messages
        merged.interactions += [i for i in delta.interactions if i not in merged.interactions]
    return merged


def _broadcast(seq: int, sequence: dict[str, Any], lit: list[dict[str, Any]],
               observations: list[dict[str, Any]]) -> None:
    now = time.time_ns()
    PUBLICATIONS.inc()
    for observation in observations:
        PUBLISH_LATENCY.observe(max(0, now - int(observation["time_ns"])) / 1e9)
    send(LIVE_GROUP, {
        "type": "observations.added", "seq": seq, "observations": observations, "sequence": sequence,
        # The same Messages as the architecture map reads them: the edge (or box) each one lights.
        "traffic": lit,
    })


PUBLISHER = Publisher()
