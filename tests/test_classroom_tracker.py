"""The lessons' status tracker, as a class sees it change arrow by arrow: the command, the image's local storage
(Empty → k of n layers → Complete, or Failed, or Removed) and the container's state."""

from __future__ import annotations

from typing import Any

import pytest

from archviz.classroom.present import present
from archviz.classroom.tracker import Tracker
from tests.recorded import scenario

REF = "127.0.0.1:5000/lab/app:1"


def changes(name: str) -> list[tuple[str, str, str]]:
    """The tracker's successive states (command, image text, container text), each once, in drawing order."""
    seen: list[tuple[str, str, str]] = []
    for message in present(scenario(name))["messages"]:
        tracker = message["tracker"]
        row = (tracker["command"], (tracker["image"] or {}).get("text", "—"),
               (tracker["container"] or {}).get("text", "—"))
        if not seen or seen[-1] != row:
            seen.append(row)
    return seen


def o(kind: str, subject: str = "", **attributes: Any) -> dict[str, Any]:
    return {"kind": kind, "subject": subject, "attributes": attributes}


def pull_request(tag: str = "1") -> dict[str, Any]:
    return o("api-request", method="POST", path="/images/create",
             query={"fromImage": "127.0.0.1:5000/lab/app", "tag": tag})


def fold(*observations: dict[str, Any], command: str = "docker pull") -> list[tuple[str, str]]:
    tracker, states = Tracker(), []
    for observation in observations:
        tracker = tracker.after(observation, command)
        states.append(((tracker.image.text if tracker.image else "—"),
                       (tracker.container.text if tracker.container else "—")))
    return states


@pytest.mark.parametrize(("case", "observations", "expected"), [
    ("a fresh pull fills the storage layer by layer", (
        pull_request(),
        o("api-pull-layer", REF, layer="a1", message="Pull complete", size=1000, layers=2),
        o("api-pull-layer", REF, layer="b2", message="Pull complete", size=2000, layers=2),
        o("image-pull", REF),
    ), ["Empty", "1 of 2 layers", "Complete (2 layers, 3.0 kB downloaded)", "Complete (2 layers, 3.0 kB downloaded)"]),
    ("a layer already here counts without a download", (
        pull_request(),
        o("api-pull-layer", REF, layer="a1", message="Already exists", size=0, layers=2),
        o("api-pull-layer", REF, layer="b2", message="Pull complete", size=500, layers=2),
    ), ["Empty", "1 of 2 layers", "Complete (2 layers, 500 B downloaded)"]),
    ("a pull the daemon refuses fails with its reason", (
        pull_request(),
        o("api-stream-end", path="/images/create", error="manifest unknown"),
    ), ["Empty", "Failed: manifest unknown"]),
    ("an image the daemon says it pulled is complete, however its layers were counted", (
        pull_request(),
        o("image-pull", REF),
    ), ["Empty", "Complete"]),
    ("a removed image is said to be removed", (
        o("image-untag", REF),
    ), ["Removed"]),
])
def test_the_image_storage_of_a_pull(case: str, observations: tuple[dict[str, Any], ...],
                                     expected: list[str]) -> None:
    assert [image for image, _ in fold(*observations)] == expected, case


@pytest.mark.parametrize(("case", "observations", "expected"), [
    ("a run creates, starts and ends its container", (
        o("container-create", "c1", id="f" * 64, image="busybox"),
        o("container-start", "c1", id="f" * 64),
        o("container-die", "c1", id="f" * 64, exitCode="3"),
    ), ["created", "running", "exited with code 3"]),
    ("rm removes it", (
        o("container-create", "c1", id="f" * 64),
        o("container-destroy", "c1", id="f" * 64),
    ), ["created", "removed"]),
    ("pause and unpause", (
        o("container-start", "c1", id="f" * 64),
        o("container-pause", "c1", id="f" * 64),
        o("container-unpause", "c1", id="f" * 64),
    ), ["running", "paused", "running"]),
    ("an exec in a running container keeps it running", (
        o("container-start", "c1", id="f" * 64),
        o("container-exec-create", "c1", id="f" * 64),
        o("container-exec-die", "c1", id="f" * 64, exitCode="0"),
    ), ["running", "running", "running"]),
])
def test_the_container_state_of_a_run(case: str, observations: tuple[dict[str, Any], ...],
                                      expected: list[str]) -> None:
    assert [container for _, container in fold(*observations, command="docker run")] == expected, case


def test_a_new_command_starts_with_nothing_in_view_but_remembers_what_it_knew() -> None:
    tracker = Tracker().after(o("container-create", "c1", id="f" * 64), "docker create c1")
    tracker = tracker.after(o("api-request", method="GET", path="/containers/json"), "docker ps")
    assert (tracker.command, tracker.container) == ("docker ps", None)
    tracker = tracker.after(o("container-start", "c1", id="f" * 64), "docker start c1")
    assert tracker.container is not None and tracker.container.text == "running"
    assert tracker.to_wire()["container"] == {"name": "c1", "state": "running", "exit_code": None, "text": "running"}


def test_a_recorded_run_of_a_missing_image_goes_from_empty_to_exited_and_removed() -> None:
    states = changes("run-missing-image")
    command = f"docker run --rm {REF}"
    assert states[0] == (command, "—", "—")
    assert (command, "Empty", "—") in states
    complete = [s for s in states if s[1].startswith("Complete")]
    assert complete and complete[0][2] == "—"  # the image is complete before any container exists
    containers = [s[2] for s in states if s[2] != "—"]
    assert containers == ["created", "running", "exited with code 0", "removed"]


def test_a_recorded_pull_of_an_unknown_image_fails() -> None:
    (image,) = {s[1] for s in changes("pull-unknown") if s[1].startswith("Failed")}
    assert "not found" in image or "unknown" in image


def test_a_recorded_build_goes_step_by_step_to_its_tag() -> None:
    images = [s[1] for s in changes("build-missing-base")]
    assert "0 of 2 layers" in images and "1 of 2 layers" in images
    assert images[-1].startswith("Complete")
    assert images.index("0 of 2 layers") < images.index("1 of 2 layers") < len(images) - 1


def test_recorded_run_exec_stop_rm_reads_as_the_lessons_tracker() -> None:
    by_command: dict[str, list[str]] = {}
    for command, _, container in changes("run-detached-exec-stop-rm"):
        by_command.setdefault(command, []).append(container)
    run, exec_, stop, rm = by_command
    assert run.startswith("docker run -d --name c1") and by_command[run][-1] == "running"
    assert by_command[exec_][-1] == "running"
    assert stop == "docker stop -t 1 c1" and by_command[stop][-1] == "exited with code 137"
    assert rm == "docker rm c1" and by_command[rm][-1] == "removed"
