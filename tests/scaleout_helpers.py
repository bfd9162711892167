"""The real parts of a scaled-out archviz, started privately for the suite: a PostgreSQL cluster and a redis-server,
each in a temp dir on a free loopback port, stopped at the end (and restartable, for the fault tests); and a
websocket client that keeps what a browser is sent.

PostgreSQL refuses to run as root, so as root the cluster runs as Debian's `postgres` user.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

from archviz.frames import ACK_EVERY
from archviz.snapshot import merged

ROOT_ONLY_USER = "postgres"
T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian keeps one per major version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Postgres:
    """A private PostgreSQL cluster: `initdb` in a temp dir, then `postgres` on a free loopback port and a unix
    socket in the same dir, trusting local connections (nothing off loopback can reach it)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.directory = Path(tempfile.mkdtemp(prefix="avpg-", dir="/tmp"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.user: str | None = ROOT_ONLY_USER if os.geteuid() == 0 else None
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self._run([str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--no-sync", "--no-instructions"])

    def _run(self, command: list[str]) -> None:
        subprocess.run(command, check=True, capture_output=True, user=self.user, cwd=self.directory)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k",
                 str(self.directory), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                 "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
                stdout=log, stderr=subprocess.STDOUT, user=self.user, cwd=self.directory, start_new_session=True,
            )
        _wait_for_port(self.port, self.process, "postgres", self.log)
        deadline = time.monotonic() + 30
        while True:  # the port opens a moment before the cluster accepts logins
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # SIGINT is PostgreSQL's fast shutdown

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its DATABASE_URL."""
        name = f"archviz_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class Redis:
    """A private redis-server on a free loopback port, keeping nothing on disk."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.directory = Path(tempfile.mkdtemp(prefix="avredis-", dir="/tmp"))
        self.log = self.directory / "redis.log"
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.directory), "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        _wait_for_port(self.port, self.process, "redis-server", self.log)

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)

    def flush(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def in_own_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh event loop in a thread of its own: the page tests' Playwright keeps an event loop
    running in the main thread for the rest of the session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main).result()


# A frame's type and number, read off its head without decoding the rest (archviz.frames writes them first).
FRAME_HEAD = re.compile(r'\{"type": "(\w+)", "seq": (\d+)')


class LiveClient:
    """A browser's side of /ws/live/ on one web process, keeping every frame it was sent. With `follow`, it does what
    the live page does: asks for a fresh snapshot when a publication number is skipped, and reconnects (getting a
    fresh snapshot) when the server closes the socket.

    Frames are kept as text and decoded when a check asks for them: a hundred clients decoding every frame as it
    came made the load bench measure itself. Clients given the same `texts` keep one copy of a frame they were
    all sent."""

    def __init__(self, port: int, *, follow: bool = False, texts: dict[str, str] | None = None) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws/live/"
        self.follow = follow
        self._texts: list[str] = []
        self._shared = {} if texts is None else texts
        self.socket: ClientConnection | None = None
        self.resyncs = 0
        self.reconnects = 0
        self._seq = 0  # the last publication applied
        self._acknowledged = 0

    @property
    def seq(self) -> int:
        """The number of the last publication applied."""
        return self._seq

    async def __aenter__(self) -> LiveClient:
        await self._connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.socket is not None
        await self.socket.close()

    async def _connect(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.socket = await connect(self.url, origin=Origin("http://127.0.0.1"), proxy=None, max_size=None)
                kind, seq = self._keep(await asyncio.wait_for(self.socket.recv(), timeout))
                break
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):  # the server is not back yet
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.25)
        assert kind == "snapshot", self._texts[-1][:200]
        self._seq = self._acknowledged = seq

    def _keep(self, text: str | bytes) -> tuple[str, int]:
        """Keep a frame (one copy among the clients sharing `texts`); its type and number."""
        text = text.decode() if isinstance(text, bytes) else text
        self._texts.append(self._shared.setdefault(text, text))
        head = FRAME_HEAD.match(text)
        if head is None:
            frame = json.loads(text)
            return frame["type"], frame.get("seq", 0)
        return head[1], int(head[2])

    async def receive(self, timeout: float = 15) -> dict[str, Any]:
        """The next frame, decoded (`follow` clients that only count frames use `receive_head`)."""
        await self.receive_head(timeout)
        return json.loads(self._texts[-1])

    async def receive_head(self, timeout: float = 15) -> tuple[str, int]:
        """Receive the next frame, doing what the page does with it; its type and number."""
        assert self.socket is not None
        try:
            kind, seq = self._keep(await asyncio.wait_for(self.socket.recv(), timeout))
        except ConnectionClosed:
            if not self.follow:
                raise
            self.reconnects += 1
            await self._connect()
            return "snapshot", self._seq
        if kind == "snapshot" or kind == "observations" and seq == self._seq + 1:
            self._seq = seq
            if kind == "snapshot":
                self._acknowledged = self._seq
            elif self._seq - self._acknowledged >= ACK_EVERY:  # as the live page says how far it is
                self._acknowledged = self._seq
                with contextlib.suppress(ConnectionClosed):  # closed meanwhile: the next receive reconnects
                    await self.socket.send(json.dumps({"type": "ack", "seq": self._seq}))
        elif kind == "observations" and seq > self._seq + 1 and self.follow:
            self.resyncs += 1
            await self.socket.send(json.dumps({"type": "resync"}))
        return kind, seq

    @property
    def frames(self) -> list[dict[str, Any]]:
        """Every frame kept, decoded."""
        return [json.loads(text) for text in self._texts]

    async def until(self, label: str, timeout: float = 30) -> None:
        """Receive until a Message whose label holds `label` has been drawn."""
        deadline = time.monotonic() + timeout
        while not any(label in message["label"] for message in self.diagram()["messages"]):
            try:
                await self.receive(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                labels = [message["label"] for message in self.diagram()["messages"]]
                raise TimeoutError(f"{label!r} not drawn in {timeout} s: at publication {self.seq} after "
                                   f"{self.reconnects} reconnects and {self.resyncs} resyncs, the last arrows were "
                                   f"{labels[-3:]}") from None

    async def settle(self, quiet: float = 1.5) -> None:
        """Receive until nothing has come for `quiet` seconds (the registry's notifications come a moment late)."""
        with contextlib.suppress(TimeoutError):
            while True:
                await self.receive(quiet)

    def heads(self) -> list[tuple[str, int]]:
        """Each frame's type and number, in the order received."""
        return [self._head(text) for text in self._texts]

    @staticmethod
    def _head(text: str) -> tuple[str, int]:
        head = FRAME_HEAD.match(text)
        return (head[1], int(head[2])) if head else ("", 0)

    def snapshot(self) -> dict[str, Any]:
        return json.loads(self._texts[self._last_snapshot()])

    def deltas(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text, (kind, _) in zip(self._texts, self.heads(), strict=True)
                if kind == "observations"]

    def _last_snapshot(self) -> int:
        return max(index for index, (kind, _) in enumerate(self.heads()) if kind == "snapshot")

    def diagram(self) -> dict[str, Any]:
        """What the page draws: the latest snapshot's diagram with each next publication applied, as diagram.js
        does (a delta the snapshot holds is skipped; one past a skipped number waits for the next snapshot)."""
        start = self._last_snapshot()
        snapshot = json.loads(self._texts[start])
        applied = [snapshot["sequence"]]
        seq = snapshot["seq"]
        for text in self._texts[start + 1:]:
            kind, number = self._head(text)
            if kind == "observations" and number == seq + 1:
                applied.append(json.loads(text)["sequence"])
                seq = number
        return merged(applied, 0)


async def idle_client(port: int) -> ClientConnection:
    """A browser tab that stopped reading: it takes one frame into its queue and then reads nothing."""
    socket = await connect(f"ws://127.0.0.1:{port}/ws/live/", origin=Origin("http://127.0.0.1"), proxy=None,
                           max_size=None, max_queue=1, ping_interval=None)
    return socket


async def how_it_ended(socket: ClientConnection) -> str:
    """Read what the idle client was sent, to its end: how the server closed it, after how many frames."""
    frames = 0
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 30)
            frames += 1
    except ConnectionClosed as closed:
        return f"closed by the server with {closed.rcvd.code if closed.rcvd else 'no code'} after {frames} frames"
    except TimeoutError:
        await socket.close()
        return f"still open after {frames} frames"


def in_order(client: LiveClient) -> bool:
    """The client was sent the publications in their order (never one twice, never an older after a newer)."""
    seqs = [seq for kind, seq in client.heads() if kind == "observations"]
    return all(later > earlier for earlier, later in zip(seqs, seqs[1:], strict=False))
