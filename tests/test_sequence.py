from __future__ import annotations

import pytest

from archviz.kinds import ALL_KINDS
from archviz.sequence import (
    ARROWS,
    IMAGE_NOT_FOUND,
    Message,
    Sequencer,
    normalize_reference,
    registry_host,
    sequence,
)
from tests.recorded import LAB_HOST, recorded

DAEMON, RUNTIME, CLIENT = f"daemon:{LAB_HOST}", f"runtime:{LAB_HOST}", "client:inferred"
REGISTRY = "registry:127.0.0.1:5000"


def arrows(diagram) -> list[tuple[str, str, str]]:  # noqa: ANN001
    return [(m.sender, m.receiver, m.label) for m in diagram.messages]


def test_a_run_of_a_missing_image_draws_the_seed_picture() -> None:
    diagram = sequence(recorded("run_missing_image"))
    image = "127.0.0.1:5000/lab/app:1"
    assert arrows(diagram) == [
        (CLIENT, DAEMON, f"pull {image}"),
        (DAEMON, REGISTRY, f"pull {image}"),
        (REGISTRY, DAEMON, "manifest and layers"),
        (DAEMON, CLIENT, f"pulled {image}"),
        (CLIENT, DAEMON, f"create container web-1 from {image}"),
        (CLIENT, DAEMON, "attach to web-1 (output streams back)"),
        (CLIENT, DAEMON, "start web-1"),
        (DAEMON, RUNTIME, "create and start task web-1"),
        (RUNTIME, DAEMON, "web-1 exited with code 0"),
        (DAEMON, DAEMON, "remove container web-1"),
    ]
    assert [p.id for p in diagram.participants] == [CLIENT, DAEMON, REGISTRY, RUNTIME]
    (interaction,) = diagram.interactions.values()
    assert interaction.title == f"docker run {image} (inferred)"
    assert interaction.inferred and all(m.inferred for m in diagram.messages)
    assert {m.interaction for m in diagram.messages} == {interaction.id}
    pull_block = diagram.messages[0].block
    assert interaction.blocks == {pull_block: IMAGE_NOT_FOUND}
    assert [m.block == pull_block for m in diagram.messages] == [True] * 4 + [False] * 6


def test_a_failing_container_shows_its_exit_code() -> None:
    diagram = sequence(recorded("failing_container"))
    assert (RUNTIME, DAEMON, "fail-1 exited with code 42") in arrows(diagram)
    assert [i.title for i in diagram.interactions.values()] == ["docker run 127.0.0.1:5000/lab/busybox:1 (inferred)"]


def test_a_pull_on_its_own_is_its_own_interaction_without_an_alt() -> None:
    diagram = sequence(recorded("pull"))
    (interaction,) = diagram.interactions.values()
    assert (interaction.title, interaction.blocks) == ("docker pull 127.0.0.1:5000/lab/app:1 (inferred)", {})


def test_a_pull_long_before_a_create_is_not_part_of_that_run() -> None:
    diagram = sequence(recorded("pull", "run_missing_image", shift_ns={1: 60_000_000_000}))
    titles = [i.title for i in diagram.interactions.values()]
    assert titles[0] == "docker pull 127.0.0.1:5000/lab/app:1 (inferred)"
    assert "docker run 127.0.0.1:5000/lab/app:1 (inferred)" in titles
    assert all(not i.blocks or list(i.blocks.values()) == [IMAGE_NOT_FOUND] for i in diagram.interactions.values())


def test_a_push_talks_to_the_registry_of_the_reference() -> None:
    diagram = sequence(recorded("push"))
    assert (DAEMON, REGISTRY, "push 127.0.0.1:5000/lab/app:2") in arrows(diagram)
    assert diagram.participants[2].label == "Registry 127.0.0.1:5000"


def test_stop_and_kill_reach_the_runtime_with_signal_names() -> None:
    labels = [label for _, _, label in arrows(sequence(recorded("run_detached_then_stop")))]
    assert "send SIGTERM to sleeper" in labels and "send SIGKILL to sleeper" in labels
    assert "sleeper exited with code 137" in labels


def test_a_stop_long_after_a_detached_run_is_a_new_interaction() -> None:
    # create, start | 20 s later: kill, kill, die, stop, destroy
    diagram = sequence(recorded("run_detached_then_stop", shift_ns={2: 20_000_000_000}))
    assert [i.title for i in diagram.interactions.values()] == [
        "docker run 127.0.0.1:5000/lab/busybox:1 (inferred)", "docker kill sleeper (inferred)",
    ]


def test_tag_and_image_removal_are_their_own_commands() -> None:
    diagram = sequence(recorded("tag", "remove_image", shift_ns={1: 20_000_000_000}))
    titles = [i.title for i in diagram.interactions.values()]
    assert titles[0] == "docker tag 127.0.0.1:5000/lab/app:3 (inferred)"
    assert titles[1].startswith("docker rmi") and titles[1].endswith("(inferred)")


def test_feeding_one_at_a_time_gives_the_same_messages_as_the_whole() -> None:
    observations = recorded("run_missing_image", "failing_container", "run_detached_then_stop", "push")
    sequencer = Sequencer()
    incremental = [m for o in observations for m in sequencer.add(o).messages]
    assert incremental == sequence(observations).messages
    assert len({m.id for m in incremental}) == len(incremental)


def test_every_kind_has_a_rule() -> None:
    assert sorted(ALL_KINDS - set(ARROWS)) == []


def test_watcher_reports_are_notes_outside_any_interaction() -> None:
    observation = {
        "id": 1, "time_ns": "5", "source": "watcher", "host": LAB_HOST, "kind": "watcher-unreachable",
        "subject": LAB_HOST, "attributes": {"message": "cannot connect"}, "correlation": "",
    }
    (message,) = Sequencer().add(observation).messages
    assert (message.kind, message.interaction, message.label) == ("note", None, "daemon unreachable: cannot connect")


@pytest.mark.parametrize(
    ("reference", "normal", "registry"),
    [
        ("busybox", "busybox:latest", "docker.io"),
        ("library/busybox:1.36", "library/busybox:1.36", "docker.io"),
        ("127.0.0.1:5000/lab/app", "127.0.0.1:5000/lab/app:latest", "127.0.0.1:5000"),
        ("localhost/app:2", "localhost/app:2", "localhost"),
        ("ghcr.io/o/app@sha256:abc", "ghcr.io/o/app@sha256:abc", "ghcr.io"),
    ],
)
def test_image_references_name_their_registry(reference: str, normal: str, registry: str) -> None:
    assert normalize_reference(reference) == normal
    assert registry_host(reference) == registry


def test_a_pull_from_the_dashboard_draws_the_user_and_one_exchange_per_layer() -> None:
    def action(number: int, kind: str, **attributes: object) -> dict:
        return {"id": number, "time_ns": str(number), "source": "action", "host": LAB_HOST, "kind": kind,
                "subject": "127.0.0.1:5000/lab/app:1", "correlation": "pull-7",
                "attributes": {"user": "ops", "job": "pull-7", "message": "", **attributes}}

    diagram = sequence([
        action(1, "action-pull"),
        action(2, "action-pull-layer", layer="07ae0ad6ac77", message="Already exists", size=0),
        action(3, "action-pull-layer", layer="39a0b9b4b9c5", message="Pull complete", size=2_000_000),
        action(4, "action-pull-done", message="Downloaded newer image"),
    ])
    assert arrows(diagram) == [
        ("user:ops", "client:archviz", "pull 127.0.0.1:5000/lab/app:1 (from the dashboard)"),
        ("client:archviz", DAEMON, "pull 127.0.0.1:5000/lab/app:1"),
        (DAEMON, DAEMON, "layer 07ae0ad6ac77 already exists"),
        (DAEMON, REGISTRY, "fetch layer 39a0b9b4b9c5"),
        (REGISTRY, DAEMON, "layer 39a0b9b4b9c5 (2.0 MB)"),
        (DAEMON, "client:archviz", "39a0b9b4b9c5: Pull complete"),
        (DAEMON, "client:archviz", "pull done"),
        ("client:archviz", "user:ops", "pull done: Downloaded newer image"),
    ]
    assert [i.title for i in diagram.interactions.values()] == ["pull 127.0.0.1:5000/lab/app:1 from the dashboard"]
    assert all(not m.inferred for m in diagram.messages)


def test_a_message_on_the_wire_carries_every_field_and_a_time_a_browser_can_hold() -> None:
    diagram = sequence(recorded("run_missing_image"))
    message = diagram.messages[0]
    wire = message.to_wire()
    assert set(wire) == set(Message.__dataclass_fields__)
    assert wire["time_ns"] == str(message.time_ns) and wire["label"] == message.label
