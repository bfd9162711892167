"""Which process publishes: one at a time across a deployment, so the live diagram is folded in one place.

On PostgreSQL the leader holds a session advisory lock on a connection of its own, and listens on it for the
NOTIFY every storing transaction sends (archviz.publish), so it hears at once what other processes stored. On
SQLite the leader holds an exclusive lock on a file beside the database, and polls. The lock goes with the
process (or its connection): when the leader dies or loses PostgreSQL, another process takes over.

Leading is an optimisation, not what keeps the diagram right: archviz.publisher checks, in the transaction that
stores each publication, that it continues the newest one, whoever made it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from pathlib import Path
from typing import IO, Any

import psycopg
from django.db import connection

log = logging.getLogger(__name__)

# pg_advisory_lock keys (any two numbers archviz alone uses): holding PUBLISHER makes a process the leader;
# STORING (a transaction lock, see archviz.publish) makes observation ids commit in the order they are assigned.
PUBLISHER_LOCK = 0x61727669
STORING_LOCK = 0x61727670
PUBLISHING_LOCK = 0x61727671
STORED_CHANNEL = "archviz_stored"
# A process that does not lead tries again at most this often.
RETRY_SECONDS = 1.0


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


class Leadership:
    """Take and hold the right to publish; `wait_for_news` blocks until another process may have stored something."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._next_try = 0.0
        self._held_by: psycopg.Connection[Any] | IO[bytes] | None = None

    def held(self) -> bool:
        """Whether this process leads; when it does not, try to take the lead (at most every RETRY_SECONDS)."""
        with self._guard:
            if self._held_by is not None and not _lost(self._held_by):
                return True
            self._drop()
            if time.monotonic() < self._next_try:
                return False
            try:
                self._held_by = _take_postgresql() if on_postgresql() else _take_file(_lock_path())
            except (OSError, psycopg.Error) as error:
                log.warning("cannot tell whether this process may publish: %s", error)
                self._held_by = None
            if self._held_by is None:
                self._next_try = time.monotonic() + RETRY_SECONDS
            return self._held_by is not None

    def holding(self) -> bool:
        """Whether this process leads right now (without trying to take the lead)."""
        held = self._held_by
        return held is not None and not _lost(held)

    def wait_for_news(self, timeout: float) -> None:
        """Block until another process stored observations (PostgreSQL tells the leader) or `timeout` passes."""
        held = self._held_by
        if not isinstance(held, psycopg.Connection):
            time.sleep(timeout)
            return
        try:
            for _ in held.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as error:
            log.warning("the publisher lost its link to PostgreSQL (%s); it will take the lead again when it can",
                        error)
            with self._guard:
                self._drop()

    def release(self) -> None:
        with self._guard:
            self._drop()
            self._next_try = 0.0

    def _drop(self) -> None:
        if self._held_by is not None:
            with contextlib.suppress(Exception):
                self._held_by.close()
        self._held_by = None


def _lost(held: psycopg.Connection[Any] | IO[bytes]) -> bool:
    return isinstance(held, psycopg.Connection) and (held.closed or held.broken)


def _take_postgresql() -> psycopg.Connection[Any] | None:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    link = psycopg.connect(**params, autocommit=True, connect_timeout=5)
    row = link.execute("SELECT pg_try_advisory_lock(%s)", (PUBLISHER_LOCK,)).fetchone()
    if not row or not row[0]:
        link.close()
        return None
    link.execute(f"LISTEN {STORED_CHANNEL}")
    return link


def _lock_path() -> Path:
    return Path(f"{connection.settings_dict['NAME']}.publisher-lock")


def _take_file(path: Path) -> IO[bytes] | None:
    handle = path.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle
