"""Tried as a user would: the dashboard served with the tap, the real docker CLI through it, a classic build of an
image whose base is missing locally, then run -d, exec, stop, rm, tag and rmi; the Mermaid export then draws each
command as its own box holding all of its effects, in causal order, with no guessed participant."""

from __future__ import annotations

import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import served_with_tap
from tests.test_pulls_lab import build_and_push
from tests.test_tap import docker

pytestmark = [pytest.mark.lab]


@pytest.fixture
def tapped_dashboard(lab: Lab, webhook_port: int, tmp_path: Path) -> Iterator[str]:
    """`serve` with ARCHVIZ_TAP_SOCKET, on the port the lab registry notifies; yields the tap's DOCKER_HOST."""
    with served_with_tap(lab, webhook_port, tmp_path) as docker_host:
        yield docker_host


def boxes(mermaid: str) -> list[list[str]]:
    """The top-level `rect` boxes of an export, each as its lines (the first is its `Note over … : title`)."""
    found: list[list[str]] = []
    depth = 0
    for line in (raw.strip() for raw in mermaid.splitlines()):
        if line.startswith("rect "):
            depth += 1
            if depth == 1:
                found.append([])
                continue
        elif line.startswith(("alt ", "opt ", "loop ")):
            depth += 1
        elif line == "end":
            depth -= 1
            if depth == 0:
                continue
        if depth >= 1:
            found[-1].append(line)
    return found


def test_every_command_of_the_build_lesson_is_its_own_box_holding_its_effects(lab: Lab, webhook_port: int,
                                                                              tapped_dashboard: str,
                                                                              tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    base = build_and_push(lab, f"causal/base{suffix}", "FROM {base}\nRUN echo base > /base\n")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nRUN echo hello > /hello.txt\n")
    name, image = f"c{suffix}", f"web{suffix}"
    time.sleep(1.5)  # the setup's notifications come and go before the range the export covers
    since = time.time()
    typed = [
        ("build", "-t", image, str(context)),
        ("run", "-d", "--name", name, image, "sleep", "30"),
        ("exec", name, "cat", "/hello.txt"),
        ("stop", "-t", "1", name),
        ("rm", name),
        ("tag", image, f"{image}:copy"),
        ("rmi", f"{image}:copy"),
    ]
    for args in typed:
        result = docker(tapped_dashboard, *args)
        assert result.returncode == 0, (args, result.stderr)
    time.sleep(1.5)  # the daemon's last events and the registry's notifications reach the store

    url = f"http://127.0.0.1:{webhook_port}/api/sequence.mmd?since={since:.3f}"
    with urllib.request.urlopen(url) as response:
        mermaid = response.read().decode()
    drawn = boxes(mermaid)
    titles = [re.sub(r"^Note over [^:]+: ", "", box[0]) for box in drawn]
    assert titles == [f"docker build -t {image} .", f"docker run -d --name {name} {image} sleep 30",
                      f"docker exec {name} cat /hello.txt", f"docker stop -t 1 {name}", f"docker rm {name}",
                      f"docker tag {image} {image}:copy", f"docker rmi {image}:copy"], mermaid
    build, run, execute, stop, remove, tag, rmi = ("\n".join(box) for box in drawn)
    assert "alt image not found locally" in build and "manifest" in build, build
    assert "create and start task" in build and f"as {image}:latest" in build, build
    assert "SIGTERM" in stop and "exited with code 137" in stop, stop
    assert stop.index("stop ") < stop.index("SIGTERM")
    assert "cat /hello.txt" in execute and "exec" in execute, execute
    assert "remove container" in remove, remove
    assert "untag" in rmi, rmi
    assert "inferred" not in mermaid.lower(), mermaid
