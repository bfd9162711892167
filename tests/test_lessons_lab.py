"""Each lesson run for real, as a teacher runs it: `manage.py lesson run NAME` against a served lab with the API tap,
then the dashboard's Mermaid export of the time range the run printed. Every lesson is run once (in a row, in one
served dashboard); the tests read what it showed and what the dashboard drew."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from archviz.lab import Lab
from archviz.lessons.lesson import Lesson, catalogue
from tests.conftest import ROOT, dashboard_env, free_port, served_with_tap

pytestmark = [pytest.mark.lab]
LESSONS = {lesson.name: lesson for lesson in catalogue()}
# Built first, removed first: an image with dependent children cannot be removed.
LESSON_IMAGES = ("my-app", "nginx", "ubuntu", "hello-world", "alpine:3.18")
# What each lesson's output shows, beside its echoed commands.
SHOWS = {
    "pull-nginx": ("Status: Downloaded newer image for nginx:latest",),
    "run-ubuntu": ("Unable to find image 'ubuntu:latest' locally", "\nhi\n"),
    "run-hello-world": ("Hello from archviz's lab stand-in for hello-world!",),
    "images-vs-containers": (": Already exists", "web1\nweb2\n"),
    "build": ("3.18: Pulling from library/alpine", "Successfully tagged my-app:latest",
              "\nHello from my first image, built FROM alpine:3.18\n"),
    "push": ("The push refers to repository", "1: digest: sha256:"),
    "remote-tls": ("Server: Docker Engine", "Hello from archviz's lab stand-in for hello-world!"),
}
RANGE = re.compile(r"since=([0-9.]+)&until=([0-9.]+)")


@dataclass(frozen=True)
class Played:
    """One `lesson run`: its exit status and output, and the dashboard's Mermaid export of the range it printed."""

    status: int
    output: str
    mermaid: str

    @property
    def boxes(self) -> list[str]:
        """The titles of the command boxes, in order."""
        return re.findall(r"^    rect .*\n    Note over [^:]+: (.*)$", self.mermaid, re.MULTILINE)

    @property
    def parties(self) -> set[str]:
        return {label.split()[0].lower() for label in re.findall(r"^    participant \w+ as (.*)$", self.mermaid,
                                                                  re.MULTILINE)}


def typed(lesson: Lesson, lab: Lab, remote_port: int) -> list[str]:
    values = {"registry": lab.registry_address, "remote": f"127.0.0.1:{remote_port}", "certs": "CERTS"}
    return [command.typed.format_map(values) for command in lesson.commands]


def mermaid(port: int, output: str) -> str:
    """The export of the range the run printed, once the registry's last notifications are in and it is still."""
    found = RANGE.search(output)
    if found is None:
        return ""
    url = f"http://127.0.0.1:{port}/api/sequence.mmd?since={found[1]}&until={found[2]}"
    while time.time() < float(found[2]):
        time.sleep(0.1)
    previous = ""
    for _ in range(50):
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        if text == previous:
            return text
        previous = text
        time.sleep(0.3)
    return previous


@pytest.fixture(scope="module")
def remote_port() -> int:
    return free_port()


@dataclass(frozen=True)
class Classroom:
    played: dict[str, Played]
    tapped: list[str]  # every request the tap saw, as `METHOD /path`


@pytest.fixture(scope="module")
def classroom(lab: Lab, webhook_port: int, remote_port: int,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    data = tmp_path_factory.mktemp("lessons")
    runs: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        with served_with_tap(lab, webhook_port, data) as tap:
            env = dashboard_env(data, lab.docker_host)
            for name in LESSONS:
                runs[name] = subprocess.run(
                    [sys.executable, "manage.py", "lesson", "run", name, "--no-countdown", "--tap", tap,
                     "--daemon", lab.docker_host, "--remote-port", str(remote_port)],
                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
            shown = {name: Played(run.returncode, run.stdout + run.stderr, mermaid(webhook_port, run.stdout))
                     for name, run in runs.items()}
            with sqlite3.connect(data / "archviz.sqlite3") as db:
                tapped = [subject for (subject,) in db.execute(
                    "SELECT DISTINCT subject FROM archviz_observation WHERE source = 'tap'")]
            yield Classroom(shown, tapped)
    finally:
        forget(lab)


def forget(lab: Lab) -> None:
    """No container or image of the lessons stays, for the tests after these."""
    client = lab.client()
    try:
        for name in (*LESSON_IMAGES, f"{lab.registry_address}/lessons/hello-world:1"):
            for image in client.images.list(name=name):
                for container in client.containers.list(all=True, filters={"ancestor": image.id}):
                    container.remove(force=True)
                client.images.remove(image.id, force=True)
    finally:
        client.close()


@pytest.mark.parametrize("name", LESSONS)
def test_a_lesson_types_each_command_as_written_then_its_output_and_steps(name: str, played: dict[str, Played],
                                                                          lab: Lab, remote_port: int) -> None:
    run = played[name]
    assert run.status == 0, run.output
    echoed = [re.sub(r"DOCKER_CERT_PATH=\S+", "DOCKER_CERT_PATH=CERTS", line[2:])
              for line in run.output.splitlines() if line.startswith("$ ")]
    assert echoed == typed(LESSONS[name], lab, remote_port)
    assert run.output.count("What happened:\n  1. User: types ") == len(LESSONS[name].docker_commands)
    assert "\nsetup: " in run.output
    for shown in SHOWS[name]:
        assert shown in run.output, shown
    assert f"Keep them as a session:\n  python manage.py session save {name}-" in run.output


@pytest.mark.parametrize("name", LESSONS)
def test_the_dashboard_draws_one_box_per_typed_command_and_nothing_inferred(name: str,
                                                                            played: dict[str, Played]) -> None:
    run = played[name]
    assert run.mermaid.startswith("sequenceDiagram\n")
    assert "inferred" not in run.mermaid
    assert len(run.boxes) == len(LESSONS[name].docker_commands), run.boxes


def box_cases() -> Iterator[object]:
    for name, lesson in LESSONS.items():
        for index in range(len(lesson.docker_commands)):
            yield pytest.param(name, index, id=f"{name}-{index + 1}")


@pytest.mark.parametrize(("name", "index"), box_cases())
def test_each_box_is_titled_as_its_command_was_typed(name: str, index: int, played: dict[str, Played], lab: Lab,
                                                     remote_port: int) -> None:
    lesson = LESSONS[name]
    expected = [line for line in typed(lesson, lab, remote_port) if not line.startswith("export ")][index]
    assert played[name].boxes[index] == expected


@pytest.mark.parametrize("name", LESSONS)
def test_the_diagram_shows_the_parties_the_lesson_names(name: str, played: dict[str, Played]) -> None:
    assert played[name].parties == set(LESSONS[name].parties)


def test_the_setup_goes_straight_to_the_daemon_not_through_the_tap(classroom: Classroom) -> None:
    assert classroom.tapped and not [subject for subject in classroom.tapped if subject.startswith("DELETE /images/")]


@pytest.fixture
def played(classroom: Classroom) -> dict[str, Played]:
    return classroom.played
