"""A scripted session full of secrets, typed through the tap of a real `serve` against the lab: an environment
value (`run -e`), an exec's command line and environment, a classic build's `--build-arg` and a `RUN` that
names a password. Afterwards no secret is found anywhere archviz keeps or says anything: the database's files
(read as bytes, the write-ahead log too), the process's log at DEBUG, every frame its live and inventory sockets
sent, and its pages and exports. The scan is shown to see: the masked forms of what was typed are there."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

from archviz.lab import Lab
from tests.conftest import free_port, process_log, served_with_tap
from tests.test_tap import docker

pytestmark = [pytest.mark.lab]
SECRETS = {name: f"s3cret-{name}-{uuid.uuid4().hex[:8]}" for name in ("env", "exec", "exec-env", "arg", "run")}


class Listening:
    """A websocket to the dashboard whose every frame is kept, read in the background by websockets' own thread."""

    def __init__(self, url: str) -> None:
        self.socket: ClientConnection = connect(url, origin="http://127.0.0.1", max_size=None)
        self.frames: list[str] = []

    def drain(self) -> str:
        while True:
            try:
                self.frames.append(str(self.socket.recv(timeout=1)))
            except TimeoutError:
                return "\n".join(self.frames)


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[tuple[int, str, dict[str, str]]]:
    """`serve` with the tap, logging at DEBUG: its port, the tap's DOCKER_HOST, and where its files are."""
    port = free_port()
    with served_with_tap(lab, port, tmp_path, {"ARCHVIZ_LOG_LEVEL": "DEBUG"}) as tap:
        yield port, tap, {"ARCHVIZ_DATA_DIR": str(tmp_path)}


def page(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return response.read().decode()


def test_no_secret_typed_in_a_session_reaches_the_store_the_log_the_sockets_or_the_pages(
        lab: Lab, served: tuple[int, str, dict[str, str]], tmp_path: Path) -> None:
    port, tap, env = served
    live = Listening(f"ws://127.0.0.1:{port}/ws/live/")
    inventory = Listening(f"ws://127.0.0.1:{port}/ws/inventory/")
    name, image = f"scan{uuid.uuid4().hex[:6]}", f"scanned{uuid.uuid4().hex[:6]}"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {lab.base_image}\nARG API_TOKEN\nRUN test -n \"$API_TOKEN\" > /checked\n"
                                        f"RUN echo --password={SECRETS['run']} > /logged-in\n")
    typed = [
        ("run", "-d", "--name", name, "-e", f"DB_PASSWORD={SECRETS['env']}", lab.base_image, "sleep", "30"),
        ("exec", name, "sh", "-c", f"echo --password={SECRETS['exec']} > /dev/null"),
        ("exec", "-e", f"API_TOKEN={SECRETS['exec-env']}", name, "true"),
        ("build", "--build-arg", f"API_TOKEN={SECRETS['arg']}", "-t", image, str(context)),
        ("rm", "-f", name),
    ]
    for args in typed:
        result = docker(tap, *args)
        assert result.returncode == 0, (args, result.stderr)
    deadline = time.monotonic() + 30
    # The built image's layers (with the instruction that made each, build arguments and all) come a moment later.
    while "remove container" not in page(port, "/api/sequence.mmd") or "API_TOKEN=" not in inventory.drain():
        assert time.monotonic() < deadline, "the session did not reach the diagram and the inventory's layers"

    said = "\n".join([live.drain(), inventory.drain(), page(port, "/"), page(port, "/inventory/"),
                      page(port, "/api/sequence.mmd"), json.dumps(json.loads(page(port, "/api/present/")))])
    live.socket.close()
    inventory.socket.close()
    data = Path(env["ARCHVIZ_DATA_DIR"])
    stored = b"".join(path.read_bytes() for path in data.glob("archviz.sqlite3*"))
    logged = process_log(env, f"serve-{port}").read_text(errors="replace")

    assert "--password=***" in said and "API_TOKEN=***" in said  # the scan reads what was typed, masked
    for secret in SECRETS.values():
        assert secret not in said, secret
        assert secret.encode() not in stored, secret
        assert secret not in logged, secret
