from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import ROOT, dashboard_env, free_port, run_container, start_serve
from tests.scaleout_helpers import LiveClient, in_own_loop


def stored_kinds(database: Path, subject: str) -> list[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT kind FROM archviz_observation WHERE subject = ? ORDER BY id", (subject,))
        return [kind for (kind,) in rows]


@pytest.mark.lab
def test_the_watch_command_stores_events_and_stops_cleanly_on_sigterm(lab: Lab, tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, lab.docker_host)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    watcher = subprocess.Popen([sys.executable, "manage.py", "watch"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert watcher.stdout is not None
    lines = []
    while not any(line.startswith("watching ") for line in lines):
        lines.append(watcher.stdout.readline())
    assert "a `serve` on the same database publishes them" in "".join(lines)
    name = f"watched-{uuid.uuid4().hex[:6]}"
    run_container(lab, name)
    deadline = time.monotonic() + 10
    while "container-destroy" not in stored_kinds(tmp_path / "archviz.sqlite3", name):
        assert time.monotonic() < deadline, "the watch command did not store the container's events"
        time.sleep(0.1)
    watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=15) == 0
    assert stored_kinds(tmp_path / "archviz.sqlite3", name) == [
        "container-create", "container-start", "container-die", "container-destroy",
    ]


@pytest.mark.lab
def test_without_redis_a_serve_on_the_same_database_publishes_what_watch_stores(lab: Lab, tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, lab.docker_host)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    # The watcher runs first, for a while: it must leave publishing to the process whose browsers can hear it.
    watcher = subprocess.Popen([sys.executable, "manage.py", "watch"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    port = free_port()
    server = None
    try:
        deadline = time.monotonic() + 30
        while "watcher-connected" not in stored_kinds(tmp_path / "archviz.sqlite3", lab.docker_host):
            assert time.monotonic() < deadline, "the watch command did not connect"
            time.sleep(0.1)
        time.sleep(1.5)
        server = start_serve(port, env, "--no-watch")
        in_own_loop(run_and_see(lab, port, f"watched-{uuid.uuid4().hex[:6]}"))
    finally:
        for process in (watcher, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)


async def run_and_see(lab: Lab, port: int, name: str) -> None:
    async with LiveClient(port) as browser:
        await browser.until("archviz is watching")
        await asyncio.to_thread(run_container, lab, name)
        await browser.until(f"remove container {name}")
