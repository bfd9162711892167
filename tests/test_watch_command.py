from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import ROOT, dashboard_env, run_container


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
