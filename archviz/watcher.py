"""The daemon watcher: stream a daemon's /events into the store, and never lose or repeat an event.

1. Connect to the daemon (DOCKER_HOST rules, or an explicit address).
2. Ask for /events since the last stored event's timeNano, or since the watcher started when nothing
   is stored (the daemon replays from its buffer of the last 256 events); the event key stores a
   replayed event only once.
3. A reading thread hands each event to the writer thread at once: the daemon gives a subscriber only
   about 100 ms per event before it skips it, so reading never waits on the database.
4. The writer thread stores what has arrived in batches and publishes them itself, when this process leads:
   an event reaches the browsers without a hop through the event loop (bench/latency.py).
5. When the stream ends or breaks (the daemon went away), record why, wait with backoff, and go to 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import close_old_connections
from docker.errors import DockerException

from archviz import kinds
from archviz.broadcast import serve_loop
from archviz.daemons import docker_host, open_client
from archviz.inventory_keeper import RELOAD, InventoryKeeper
from archviz.models import StoredObservation
from archviz.observation import Observation, Source
from archviz.publish import publish
from archviz.publisher import PUBLISHER
from archviz.sources.daemon import MalformedEvent, observation_from_event, since_parameter

log = logging.getLogger(__name__)

BATCH_LIMIT = 1000
# The inventory is refreshed once the daemon's events have been quiet this long, or at the latest this long
# after the first of them: its calls to the daemon and its writes would otherwise slow each event's way to the
# browsers (measured by bench/latency.py).
INVENTORY_SETTLE_S = 0.02
INVENTORY_LAG_S = 0.25
STOP = "stop"


@dataclass(frozen=True)
class Backoff:
    first: float = 0.25
    factor: float = 2.0
    longest: float = 5.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * self.factor, self.longest)


def unreachable_hint(address: str, error: str) -> str:
    """What a person can do about a daemon that cannot be reached, in plain words."""
    lowered = error.lower()
    if "invalid bind address" in lowered or "not a docker address" in lowered:
        return (f"DOCKER_HOST={address} is not a Docker address: use unix:///path/to/docker.sock "
                "or tcp://127.0.0.1:2375, or unset it for the local daemon.")
    if "permission denied" in lowered:
        return ("Permission denied on the Docker socket: run archviz as root or as a user in the "
                "docker group.")
    if address.startswith("unix://"):
        return (f"No Docker daemon answers at {address}. Start Docker, set DOCKER_HOST to a running "
                "daemon, or start archviz's own lab: python manage.py lab up")
    return (f"No Docker daemon answers at {address}. Check that it runs and listens there, or set "
            "DOCKER_HOST to a running daemon.")


def daemon_unreachable_reason(address: str) -> str | None:
    """None when a daemon answers a ping at the address, else why not."""
    try:
        client = open_client(address, timeout=5)
    except Exception as error:
        return _describe(error)
    try:
        client.ping()
    except Exception as error:
        return _describe(error)
    finally:
        client.close()
    return None


class DaemonWatcher:
    def __init__(self, address: str | None = None, backoff: Backoff | None = None, inventory: bool = True) -> None:
        self.address = address or docker_host()
        self.keeper = InventoryKeeper(self.address) if inventory else None
        self._inbox: asyncio.Queue[str | dict[str, Any]] = asyncio.Queue()
        # What the reading thread (and the loop's reports) hand the writer thread, in order; `stop` ends it with
        # None. (Also when the event loop stops first, as at serve's shutdown: the writer thread never outlives it.)
        self._arrived: queue.Queue[Observation | None] = queue.Queue()
        self._halted = threading.Event()  # `stop`, as the threads see it
        self._handing = threading.Lock()
        self.backoff = backoff or Backoff()
        self._stopping = asyncio.Event()
        self._stream_lock = threading.Lock()
        self._stream: object | None = None
        self._status: tuple[str, str] | None = None
        self._established = False

    async def run(self) -> None:
        """Watch until stop() is called; survives any number of daemon restarts."""
        loop = asyncio.get_running_loop()
        # The writer publishes too: its sends go to this loop (archviz.broadcast), in order with the loop's own.
        writing = ThreadPoolExecutor(1, thread_name_prefix="watcher-store", initializer=serve_loop, initargs=(loop,))
        writer = loop.run_in_executor(writing, self._write)
        keeping = asyncio.create_task(self._keep_inventory()) if self.keeper else None
        delays = self.backoff.delays()
        # With nothing stored yet, start from now: what happens while we connect is replayed too.
        started = time.time_ns()
        try:
            while not self._stopping.is_set():
                await self._stored()
                since = await _last_event_time(self.address) or started
                self._established = False
                try:
                    await asyncio.to_thread(self._read, loop, since)
                except Exception as error:  # any failure of the link means "record why, then retry"
                    reason = _describe(error)
                else:
                    reason = "the daemon closed the event stream (it stopped or restarted)"
                if self._stopping.is_set():
                    break
                if self._established:
                    delays = self.backoff.delays()
                await self._stored()
                delay = next(delays)
                self._report(kinds.WATCHER_UNREACHABLE, reason, retry_in=delay)
                log.warning("daemon %s: %s; retrying in %.2f s", self.address, reason, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            await self._stored()
        finally:
            self.stop()
            await writer
            writing.shutdown()
            if keeping is not None:
                # Let the keeper finish the job it is on: its thread cannot be cancelled, and it must not
                # outlive the loop it reports to.
                self._inbox.put_nowait(STOP)
                await keeping

    def stop(self) -> None:
        self._stopping.set()
        with self._handing:
            if not self._halted.is_set():
                self._halted.set()
                self._arrived.put(None)  # the writer ends once what was handed before is stored
        with self._stream_lock:
            if self._stream is not None:
                self._stream.close()  # type: ignore[attr-defined]

    # The reading thread -------------------------------------------------------------------------

    def _read(self, loop: asyncio.AbstractEventLoop, since: int) -> None:
        """Stream events until the daemon goes away (the SDK's iterator simply ends then)."""
        client = open_client(self.address, timeout=10)
        try:
            version = client.version()
            stream = client.api.events(decode=True, since=since_parameter(since))
            with self._stream_lock:
                self._stream = stream
            self._established = True
            if self._stopping.is_set():
                return
            self._report(kinds.WATCHER_CONNECTED,
                         f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})")
            if self.keeper is not None:
                loop.call_soon_threadsafe(self._inbox.put_nowait, RELOAD)
            for event in stream:
                try:
                    observation = observation_from_event(event, self.address)
                except MalformedEvent as error:
                    log.warning("daemon %s sent a malformed event (%s): skipped", self.address, error)
                    continue
                self._hand(observation)
                if self.keeper is not None:
                    job = {"kind": observation.kind, "attributes": observation.attributes}
                    loop.call_soon_threadsafe(self._inbox.put_nowait, job)
        finally:
            with self._stream_lock:
                self._stream = None
            client.close()

    def _report(self, kind: str, message: str, retry_in: float = 0) -> None:
        """Record the watcher's link state, only when it changes, in order with the events (called by the reading
        thread, or by the loop while no reading thread runs)."""
        if self._status == (kind, message):
            return
        self._status = (kind, message)
        attributes: dict[str, object] = {"address": self.address, "message": message}
        if kind == kinds.WATCHER_UNREACHABLE:
            attributes.update(hint=unreachable_hint(self.address, message), retry_in=retry_in)
        self._hand(Observation(
            time_ns=time.time_ns(), source=Source.WATCHER, host=self.address, kind=kind,
            subject=self.address, attributes=attributes,
        ))

    # The inventory task -------------------------------------------------------------------------

    async def _keep_inventory(self) -> None:
        # Jobs in order, in a worker thread: the keeper talks to the daemon and the store. It waits for a burst
        # of events to pass first (see INVENTORY_SETTLE_S): the events' way to the browsers comes first.
        assert self.keeper is not None
        handle = sync_to_async(self.keeper.handle_all, thread_sensitive=False)
        while True:
            jobs = await self._settled_jobs()
            stopping = STOP in jobs
            if not await handle(jobs[:jobs.index(STOP)] if stopping else jobs) and not stopping:
                # Lost track (the daemon or the store went away, or the daemon answered nonsense): start again from
                # a full load, unless the watcher is stopping meanwhile.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.backoff.longest)
                if not self._stopping.is_set():
                    self._inbox.put_nowait(RELOAD)
            if stopping:
                return

    async def _settled_jobs(self) -> list[str | dict[str, Any]]:
        """The next jobs: all that arrive until the events have been quiet for INVENTORY_SETTLE_S (or a busy
        daemon has kept them coming for INVENTORY_LAG_S), or until a stop."""
        jobs = [await self._inbox.get()]
        deadline = time.monotonic() + INVENTORY_LAG_S
        while jobs[-1] != STOP and (left := deadline - time.monotonic()) > 0:
            try:
                jobs.append(await asyncio.wait_for(self._inbox.get(), min(INVENTORY_SETTLE_S, left)))
            except TimeoutError:
                break
        return jobs

    # The writer thread --------------------------------------------------------------------------

    def _hand(self, observation: Observation) -> None:
        """Give the writer an observation to store; after `stop` none is taken (the daemon replays its events)."""
        with self._handing:
            if not self._halted.is_set():
                self._arrived.put(observation)

    async def _stored(self) -> None:
        """Wait until everything handed to the writer is stored."""
        await asyncio.to_thread(self._arrived.join)

    def _write(self) -> None:
        """Store what arrives, in batches of what waits, until None arrives; each batch is published here."""
        while True:
            batch = [self._arrived.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < BATCH_LIMIT:
                    batch.append(self._arrived.get_nowait())
            observations = [observation for observation in batch if observation is not None]
            if observations:
                self._store(observations)
            for _ in batch:
                self._arrived.task_done()
            if None in batch:
                close_old_connections()
                return

    def _store(self, batch: list[Observation]) -> None:
        delays = self.backoff.delays()
        while True:
            close_old_connections()  # a connection the database dropped is replaced, as for each request
            try:
                with PUBLISHER.publishing_here():
                    publish(batch)
                return
            except Exception:  # the batch stays in hand until the store takes it, or the watcher stops
                delay = next(delays)
                if self._halted.is_set():
                    log.exception("storing %d observations failed as the watcher stops: they are not stored",
                                  len(batch))
                    return
                log.exception("storing %d observations failed; retrying in %.2f s", len(batch), delay)
                self._halted.wait(delay)


@database_sync_to_async
def _last_event_time(host: str) -> int | None:
    row = (StoredObservation.objects.filter(source=Source.DAEMON.value, host=host)
           .order_by("-time_ns").values_list("time_ns", flat=True).first())
    return row


# What the SDK and requests say, buried in nested exceptions, and how to say it plainly.
_PLAIN_REASONS = (
    ("No such file or directory", "cannot connect: there is no socket at that path"),
    ("Connection refused", "cannot connect: connection refused (nothing listens there)"),
    ("Permission denied", "cannot connect: permission denied on the socket"),
    ("timed out", "cannot connect: the daemon did not answer in time"),
    ("Name or service not known", "cannot connect: the host name does not resolve"),
    # TLS (ARCHVIZ_DOCKER_HOSTS' ?tls=DIR): which side refused whom.
    ("CERTIFICATE_VERIFY_FAILED", "cannot connect: the daemon's TLS certificate is not signed by the CA in the "
                                  "folder's ca.pem, or does not name the host"),
    *((refusal, "cannot connect: the daemon did not accept archviz's client certificate (the folder's cert.pem "
                "must be signed by the CA the daemon's --tlscacert names)")
      for refusal in ("alert bad certificate", "alert unknown ca", "alert certificate required",
                      "EOF occurred in violation of protocol")),
    ("an HTTP request to an HTTPS server", "cannot connect: the daemon speaks TLS there: add ?tls=DIR (the folder of "
                                           "ca.pem, cert.pem and key.pem) to its address in ARCHVIZ_DOCKER_HOSTS"),
)


def _describe(error: BaseException) -> str:
    """One plain sentence for why the link to a daemon failed."""
    text = str(error)
    for needle, plain in _PLAIN_REASONS:
        if needle in text:
            return plain
    if isinstance(error, DockerException):
        return text.replace("Error while fetching server API version: ", "cannot connect: ")[:300]
    return f"{type(error).__name__}: {text}"[:300]
