"""Shared fixtures. The people in these tests:

- a newcomer, who runs the dashboard against whatever DOCKER_HOST says, possibly nothing;
- a viewer, an anonymous browser on the live page;
- the lab: a real dockerd and its registries (distribution 2.8.2 open to all and one that asks for a login, and
  distribution 3.1.1 where ../shared holds it; all notify, and both that ask for a login know alice and bob),
  started once per test session on a private socket and free loopback ports, and stopped (leaving nothing
  running) at the end;
- an operator scaling out: a private PostgreSQL cluster and redis-server, likewise started once per session.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from archviz.classroom import answers
from archviz.lab import Lab
from archviz.publisher import PUBLISHER
from archviz.tap.proxy import Tap
from tests.scaleout_helpers import Postgres, Redis, postgres_bin

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def _fresh_publisher() -> Iterator[None]:
    # Each test starts from an empty store, whose ids start again: nothing published or answered before may carry
    # over.
    PUBLISHER.reset()
    answers.forget()
    yield
    PUBLISHER.reset()
    answers.forget()


class NotificationSink:
    """A second, always-up endpoint of the lab registry: it records every event the registry sends, so tests
    can compare what archviz stored with what the registry really sent."""

    def __init__(self) -> None:
        self.events: dict[str, dict] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with sink.lock:
                    for event in body["events"]:
                        sink.events[event["id"]] = event
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self, repositories: set[str]) -> set[str]:
        return set(self.sent(repositories))

    def sent(self, repositories: set[str]) -> dict[str, dict]:
        """The events sent about these repositories, by id."""
        with self.lock:
            return {i: e for i, e in self.events.items() if e["target"]["repository"] in repositories}


@pytest.fixture(scope="session")
def sink() -> Iterator[NotificationSink]:
    the_sink = NotificationSink()
    yield the_sink
    the_sink.server.shutdown()


@pytest.fixture(scope="session")
def webhook_port() -> int:
    """Where the lab registry sends archviz its notifications; registry tests serve the dashboard here."""
    return free_port()


@pytest.fixture(scope="session")
def lab(sink: NotificationSink, webhook_port: int) -> Iterator[Lab]:
    # A short path under /tmp: a unix socket path must stay under 108 bytes.
    the_lab = Lab(Path(tempfile.mkdtemp(prefix="avlab-", dir="/tmp")), registry_port=free_port(),
                  auth_registry_port=free_port(),
                  webhooks=(f"http://127.0.0.1:{webhook_port}/hooks/registry/", sink.url),
                  v3_registry_port=free_port())
    try:
        the_lab.up(say=lambda line: None)
        yield the_lab
    finally:
        the_lab.down(say=lambda line: None)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL cluster (Debian's postgresql): each test takes a fresh database of it."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed: ./scripts/test installs Debian's postgresql")
    cluster = Postgres(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    """A private redis-server (Debian's redis-server), emptied before each test that uses it (see `redis`)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed: ./scripts/test installs Debian's redis-server")
    the_server = Redis(server)
    try:
        the_server.start()
        yield the_server
    finally:
        the_server.remove()


@pytest.fixture
def redis(redis_server: Redis) -> Redis:
    redis_server.flush()
    return redis_server


@pytest_asyncio.fixture
async def tap(lab: Lab) -> AsyncIterator[Tap]:
    """The API tap in front of the lab's daemon, in the test's own event loop."""
    the_tap = Tap(Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock"), lab.socket)
    server = await the_tap.start()
    yield the_tap
    await the_tap.stop(server)


def run_container(lab: Lab, name: str, command: str = "true") -> None:
    """`docker run --rm --name NAME BASE sh -c COMMAND` against the lab, waiting until it is removed."""
    client = lab.client()
    try:
        client.containers.run(lab.base_image, ["sh", "-c", command], name=name, remove=True, network_mode="none")
    except Exception as error:  # a non-zero exit is part of some tests
        if "returned non-zero exit status" not in str(error):
            raise
    finally:
        client.close()


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    env: dict[str, str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def start(self) -> None:
        self.process = start_serve(self.port, self.env)


def process_log(env: dict[str, str], name: str) -> Path:
    """Where a dashboard process started by a test writes its output: a file beside its database, never a pipe
    nobody reads (a process that logs more than a pipe holds, as one does while Redis is down, would stop)."""
    return Path(env.get("ARCHVIZ_DATA_DIR", tempfile.gettempdir())) / f"{name}.log"


def start_manage(env: dict[str, str], name: str, *command: str) -> subprocess.Popen[bytes]:
    """`manage.py COMMAND…` in its own process, its output appended to `process_log(env, name)`."""
    with process_log(env, name).open("ab") as log:
        return subprocess.Popen([sys.executable, "manage.py", *command], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def start_serve(port: int, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    process = start_manage(env, f"serve-{port}", "serve", "--port", str(port), *extra)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {process_log(env, f'serve-{port}').read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("serve did not answer within 30 s")


@contextmanager
def served_with_tap(lab: Lab, port: int, data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`serve` on `port` with ARCHVIZ_TAP_SOCKET and the lab registry's token (and `extra_env`), in its own database
    in `data_dir`; yields the tap's DOCKER_HOST once the tap listens. On the webhook port, it also stores the
    registry's notifications."""
    listen = Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock")
    env = dashboard_env(data_dir, lab.docker_host) | {"ARCHVIZ_TAP_SOCKET": f"unix://{listen}",
                                                      "ARCHVIZ_REGISTRY_TOKEN": lab.webhook_token, **(extra_env or {})}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    server = start_serve(port, env)
    try:
        deadline = time.monotonic() + 10
        while not listen.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"unix://{listen}"
    finally:
        server.terminate()
        server.wait(timeout=15)
        listen.unlink(missing_ok=True)


class Deployment:
    """archviz scaled out as an operator runs it: `serve --no-watch` web processes on the given ports and other
    commands (`watch`, `tap …`), all on one database and one Redis, stopped with SIGTERM at the end."""

    def __init__(self, env: dict[str, str], ports: list[int], commands: list[list[str]]) -> None:
        self.env = env
        self.ports = ports
        self.commands = commands
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True)
        for command in self.commands:
            self.processes.append(start_manage(self.env, command[0], *command))
        self.processes += [start_serve(port, self.env, "--no-watch") for port in self.ports]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def dashboard_env(data_dir: Path, docker_host: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHVIZ_", "DATABASE_URL", "REDIS_URL"))}
    env.update(ARCHVIZ_DATA_DIR=str(data_dir), DOCKER_HOST=docker_host, PYTHONUNBUFFERED="1")
    return env


@contextlib.contextmanager
def webhook_dashboard(data_dir: Path, token: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`manage.py serve` in its own process and database with the registry webhook on (bearer `token`) and no
    daemon to watch; yields its URL."""
    env = dashboard_env(data_dir, f"unix://{data_dir}/no-daemon.sock") | {"ARCHVIZ_REGISTRY_TOKEN": token,
                                                                         **(extra_env or {})}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = start_serve(port, env, "--no-watch")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.fixture
def registry_dashboard(lab: Lab, webhook_port: int, tmp_path: Path) -> Iterator[Dashboard]:
    """`manage.py serve` on the port the lab's registries notify, with their token, in its own database."""
    env = dashboard_env(tmp_path, lab.docker_host) | {"ARCHVIZ_REGISTRY_TOKEN": lab.webhook_token}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    dashboard = Dashboard(f"http://127.0.0.1:{webhook_port}", start_serve(webhook_port, env), tmp_path,
                          webhook_port, env)
    yield dashboard
    dashboard.stop()


@pytest.fixture
def dashboard(lab: Lab, tmp_path: Path) -> Iterator[Dashboard]:
    """`manage.py serve` as a newcomer runs it, in its own process and database, watching the lab."""
    env = dashboard_env(tmp_path, lab.docker_host)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    the_dashboard = Dashboard(f"http://127.0.0.1:{port}", start_serve(port, env), tmp_path, port, env)
    yield the_dashboard
    the_dashboard.stop()


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's Chromium, driven by Playwright; Playwright never downloads a browser of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()
