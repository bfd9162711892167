"""`./scripts/serve` on a machine where no daemon answers: it starts archviz's own lab and the API tap in front of its
daemon, and prints one `export DOCKER_HOST=…` line, pointing at the tap; a newcomer who pastes it and types
`docker run hello-world` sees the stand-in's greeting, and the dashboard has the client's requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from archviz.lab.processes import registry_v3_missing
from tests.conftest import ROOT, free_port
from tests.test_tap import docker

pytestmark = [pytest.mark.lab]


class Output:
    """The script's output, read as it comes (serve runs on; its output never ends by itself)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline, f"{text!r} not printed:\n" + "\n".join(self.lines)
            time.sleep(0.1)


@pytest.fixture
def newcomer_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A shell with no daemon at DOCKER_HOST, and the lab's folder and ports of its own; the lab is downed after."""
    lab_dir = Path(tempfile.mkdtemp(prefix="avserve-", dir="/tmp"))  # short: unix socket paths are limited
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHVIZ_", "DATABASE_URL", "REDIS_URL"))}
    env |= {"DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock", "ARCHVIZ_DATA_DIR": str(tmp_path / "data"),
            "ARCHVIZ_LAB_DIR": str(lab_dir), "ARCHVIZ_LAB_REGISTRY_PORT": str(free_port()),
            "ARCHVIZ_LAB_AUTH_REGISTRY_PORT": str(free_port()), "ARCHVIZ_LAB_V3_REGISTRY_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1"}
    yield env
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "manage.py", "lab", "down"], cwd=ROOT, env=env,
                   capture_output=True, timeout=120)


def test_serve_starts_the_lab_with_the_tap_and_prints_the_one_line_that_points_at_it(
        newcomer_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([str(ROOT / "scripts" / "serve"), "--port", str(port)], cwd=ROOT, env=newcomer_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = Output(process)
    try:
        output.wait_for("The API tap listens on")
        tap = f"unix://{newcomer_env['ARCHVIZ_LAB_DIR']}/tap.sock"
        exports = [line.strip() for line in output.lines if "export DOCKER_HOST=" in line]
        assert exports == [f"export DOCKER_HOST={tap}"], output.lines

        ran = docker(tap, "run", "hello-world")
        assert ran.returncode == 0, ran.stderr
        assert "Hello from archviz's lab stand-in for hello-world!" in ran.stdout

        deadline = time.monotonic() + 15
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sequence.mmd", timeout=10) as response:
                mermaid = response.read().decode()
            if "docker run hello-world" in mermaid and "library/hello-world" in mermaid:
                break
            assert time.monotonic() < deadline, mermaid
            time.sleep(0.2)
        status = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "manage.py", "lab", "status"], cwd=ROOT,
                                env=newcomer_env, capture_output=True, text=True, timeout=60)
        assert json.loads(status.stdout)["tap_socket"] == tap
        pushes_to_distribution_3_reach_the_audit(newcomer_env, output, tap, port, tmp_path / "docker-config")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def pushes_to_distribution_3_reach_the_audit(env: dict[str, str], output: Output, tap: str, port: int,
                                            config: Path) -> None:
    """The lab's distribution 3 registry notifies the dashboard `serve` runs, naming the user who pushed; without
    ../shared the lab says why it runs none."""
    v3 = f"127.0.0.1:{env['ARCHVIZ_LAB_V3_REGISTRY_PORT']}"
    missing = registry_v3_missing()
    if missing:
        output.wait_for(f"no distribution 3 registry: {missing}")
        return
    output.wait_for(f"starting distribution 3.1.1 on {v3}")
    password = (Path(env["ARCHVIZ_LAB_DIR"]) / "password-alice").read_text()
    for command in (["login", v3, "-u", "alice", "--password-stdin"], ["tag", "hello-world", f"{v3}/class/hello:1"],
                    ["push", f"{v3}/class/hello:1"]):
        done = docker(tap, "--config", str(config), *command, stdin=password if command[0] == "login" else None)
        assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while True:
        query = "repository=class%2Fhello&actor=alice&action=push&kind=manifest"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/registry/events/?{query}", timeout=10) as response:
            if [event["tag"] for event in json.load(response)["events"]] == ["1"]:
                return
        assert time.monotonic() < deadline, "alice's push to distribution 3 did not reach the audit"
        time.sleep(0.2)
