"""Tried as a newcomer on a machine with no internet: the lessons' commands exactly as typed (`docker pull nginx`,
`docker run ubuntu echo hi`, `docker run hello-world`, a classic build FROM alpine:3.18), with the real docker CLI
through the API tap of a served dashboard. The lab registry stands in for Docker Hub, so each pulls from it and the
dashboard stores both the client's requests and the registry's notifications for `library/…`; anything else fails
at once at the lab's guard, and nothing leaves the machine."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archviz.lab import Lab, guard, hub
from tests.conftest import served_with_tap
from tests.test_tap import docker

pytestmark = [pytest.mark.lab]
# Built first, removed first: an image with dependent children cannot be removed.
LESSON_IMAGES = ("lesson-app", "nginx", "ubuntu", "hello-world", "alpine:3.18", "busybox")


@dataclass(frozen=True)
class Classroom:
    """The served dashboard: `docker_host` is its tap (what the newcomer exports), `database` its store."""

    docker_host: str
    database: Path

    def rows(self, source: str) -> list[tuple[str, str, dict]]:
        with sqlite3.connect(self.database) as connection:
            found = connection.execute("SELECT kind, subject, attributes FROM archviz_observation WHERE source = ? "
                                       "ORDER BY id", (source,)).fetchall()
        return [(kind, subject, json.loads(attributes)) for kind, subject, attributes in found]

    def eventually(self, what: str, check: Callable[[], bool], seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, f"not stored within {seconds} s: {what}"
            time.sleep(0.1)

    def tapped(self, subject: str, failed: bool = False, **query: str) -> bool:
        """Whether the tap stored the daemon's answer (an error, with `failed`) to this request (`POST /build`, with
        these query parameters)."""
        return any(kind == "api-call" and found == subject and query.items() <= attributes["query"].items()
                   and (attributes["status"] >= 400) == failed for kind, found, attributes in self.rows("tap"))

    def notified(self, repository: str, action: str = "registry-pull") -> bool:
        return any(kind == action and attributes["repository"] == repository
                   for kind, _, attributes in self.rows("registry"))


@pytest.fixture(scope="module")
def classroom(lab: Lab, webhook_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    data = tmp_path_factory.mktemp("classroom")
    with served_with_tap(lab, webhook_port, data) as docker_host:
        yield Classroom(docker_host, data / "archviz.sqlite3")


@pytest.fixture(autouse=True)
def forget_the_lessons(lab: Lab) -> Iterator[None]:
    """After each test: no container or image of the lessons stays, so the next command pulls again."""
    yield
    client = lab.client()
    try:
        for name in LESSON_IMAGES:
            for container in client.containers.list(all=True, filters={"ancestor": name}):
                container.remove(force=True)
        for name in LESSON_IMAGES:
            for image in client.images.list(name=name):
                client.images.remove(image.id, force=True)
    finally:
        client.close()


def test_the_registry_holds_the_stand_ins_and_the_daemon_none_until_a_command_pulls_one(lab: Lab) -> None:
    for reference in hub.references():
        repository, tag = reference.rsplit(":", 1)
        with urllib.request.urlopen(f"http://{lab.registry_address}/v2/{repository}/tags/list") as response:
            assert tag in json.load(response)["tags"]
    client = lab.client()
    try:
        labelled = [image.tags for image in client.images.list()
                    if image.labels.get(hub.DESCRIPTION, "").startswith(hub.STAND_IN_MARK)]
    finally:
        client.close()
    assert labelled == []


def test_docker_pull_nginx_comes_layer_by_layer_from_the_stand_in(classroom: Classroom) -> None:
    pulled = docker(classroom.docker_host, "pull", "nginx")
    assert pulled.returncode == 0, pulled.stderr
    assert "latest: Pulling from library/nginx" in pulled.stdout
    assert pulled.stdout.count(": Pull complete") == 4, pulled.stdout
    assert "Status: Downloaded newer image for nginx:latest" in pulled.stdout
    classroom.eventually("the client's pull", lambda: classroom.tapped("POST /images/create",
                                                                       fromImage="docker.io/library/nginx"))
    classroom.eventually("the registry's notification", lambda: classroom.notified("library/nginx"))


def test_docker_run_ubuntu_echo_hi_pulls_then_runs(classroom: Classroom) -> None:
    ran = docker(classroom.docker_host, "run", "ubuntu", "echo", "hi")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hi\n"
    assert "Unable to find image 'ubuntu:latest' locally" in ran.stderr
    classroom.eventually("the client's create and start", lambda: classroom.tapped("POST /containers/create")
                         and any(subject.endswith("/start") for _, subject, _ in classroom.rows("tap")))
    classroom.eventually("the registry's notification", lambda: classroom.notified("library/ubuntu"))


def test_docker_run_hello_world_greets_with_the_four_steps(classroom: Classroom) -> None:
    ran = docker(classroom.docker_host, "run", "hello-world")
    assert ran.returncode == 0, ran.stderr
    assert "Hello from archviz's lab stand-in for hello-world!" in ran.stdout
    for step in (" 1. The Docker client contacted the Docker daemon.",
                 ' 2. The Docker daemon pulled the "hello-world" image from the registry',
                 " 3. The Docker daemon created a new container from that image",
                 " 4. The Docker daemon streamed that output to the Docker client"):
        assert step in ran.stdout, step
    classroom.eventually("the registry's notification", lambda: classroom.notified("library/hello-world"))


def test_a_classic_build_from_alpine_3_18_copies_runs_and_tags(classroom: Classroom, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello from the lesson\n")
    (tmp_path / "Dockerfile").write_text('FROM alpine:3.18\nCOPY hello.txt /hello.txt\n'
                                         'RUN cat /hello.txt > /built.txt\nCMD ["cat", "/built.txt"]\n')
    built = subprocess.run(["docker", "build", "-t", "lesson-app", "."], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120, env={**os.environ, "DOCKER_HOST": classroom.docker_host})
    assert built.returncode == 0, built.stderr
    assert "3.18: Pulling from library/alpine" in built.stdout
    assert "Successfully tagged lesson-app:latest" in built.stdout
    ran = docker(classroom.docker_host, "run", "--rm", "lesson-app")
    assert ran.stdout == "hello from the lesson\n", ran.stderr
    classroom.eventually("the client's build", lambda: classroom.tapped("POST /build", t="lesson-app"))
    classroom.eventually("the registry's notification", lambda: classroom.notified("library/alpine"))


def test_nginx_answers_http_on_port_80_inside_its_container_and_stops_at_once(classroom: Classroom) -> None:
    started = docker(classroom.docker_host, "run", "-d", "nginx")
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    page = docker(classroom.docker_host, "exec", container, "wget", "-qO-", "localhost")
    for _ in range(20):  # httpd may not listen yet the moment the container starts
        if page.returncode == 0:
            break
        time.sleep(0.1)
        page = docker(classroom.docker_host, "exec", container, "wget", "-qO-", "localhost")
    assert "Welcome to nginx!" in page.stdout and "stand-in" in page.stdout, page.stderr
    began = time.monotonic()
    stopped = docker(classroom.docker_host, "stop", container)
    assert stopped.returncode == 0 and time.monotonic() - began < 5


def test_pulling_what_the_stand_in_lacks_fails_at_once_at_the_guard_and_nothing_leaves(lab: Lab,
                                                                                       classroom: Classroom) -> None:
    before = len(guard.attempts(lab.guard_record))
    began = time.monotonic()
    pulled = docker(classroom.docker_host, "pull", "some/unknown")
    took = time.monotonic() - began
    assert pulled.returncode != 0
    assert took < 2, took
    assert guard.REASON in pulled.stderr, pulled.stderr
    # The daemon asked its mirror (on loopback), then Docker Hub, and that went to the guard, not off the machine.
    attempts = [attempt["request"] for attempt in guard.attempts(lab.guard_record)[before:]]
    assert attempts and set(attempts) == {"CONNECT registry-1.docker.io:443 HTTP/1.1"}, attempts
    classroom.eventually("the failed pull", lambda: classroom.tapped("POST /images/create", failed=True,
                                                                     fromImage="docker.io/some/unknown"))
