from __future__ import annotations

import json
from pathlib import Path

import pytest

from archviz.pull_progress import PullState, apply_line, plain_error
from archviz.reference import BadReference, parse_reference

RECORDED = json.loads((Path(__file__).parent / "data" / "pull_progress.json").read_text())


def test_a_recorded_pull_ends_with_every_layer_complete() -> None:
    state = PullState("127.0.0.1:5000/lab/app:1")
    fractions = []
    for line in RECORDED:
        state = apply_line(state, line)
        fractions.append(state.fraction)
    assert [layer.stage for layer in state.layers] == ["Already exists", "Pull complete", "Pull complete"]
    assert state.status == "done" and state.fraction == 1.0
    assert state.message == "Downloaded newer image for 127.0.0.1:5000/lab/app:1"
    assert all(b >= a for a, b in zip(fractions[1:], fractions[2:], strict=False))


def test_downloading_moves_its_layer_forward_by_bytes() -> None:
    downloading = {"status": "Downloading", "id": "abc", "progressDetail": {"current": 50, "total": 100}}
    state = apply_line(PullState("x"), downloading)
    assert state.layers[0].fraction == pytest.approx(0.35)
    state = apply_line(state, {"status": "Extracting", "id": "abc", "progressDetail": {"current": 100, "total": 100}})
    assert state.layers[0].fraction == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        ("manifest for 127.0.0.1:5000/lab/nothing:1 not found: manifest unknown", "No such image in that registry"),
        ('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', "cannot be reached"),
        ("unauthorized: authentication required", "wants a login"),
    ],
)
def test_errors_are_said_plainly_with_what_to_do(error: str, advice: str) -> None:
    state = apply_line(PullState("x"), {"error": error, "errorDetail": {"message": error}})
    assert state.status == "failed" and advice in state.message
    assert advice in plain_error(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("UPPER/Case", "repository names must be lowercase"),
        ("a::b", "is not a valid image reference"),
        ("x" * 300, "300 characters long; Docker allows at most 255"),
        ("", "type an image reference"),
        ("lab/app:<script>", "is not a valid image reference"),
        ("lab/app@sha256:xyz", "is not a valid image reference"),
    ],
)
def test_invalid_references_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(BadReference, match=message):
        parse_reference(text)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:5000/lab/app:1", ("127.0.0.1:5000/lab/app", "1")),
        ("busybox", ("busybox", "latest")),
        ("localhost/a_b__c-d:v1.0", ("localhost/a_b__c-d", "v1.0")),
        ("lab/app@sha256:" + "a" * 64, ("lab/app", "sha256:" + "a" * 64)),
    ],
)
def test_valid_references_give_repository_and_tag(text: str, parsed: tuple[str, str]) -> None:
    assert parse_reference(text) == parsed
