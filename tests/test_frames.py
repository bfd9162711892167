from __future__ import annotations

import json

import pytest

from archviz import frames
from archviz.frames import MAX_CLIENT_FRAME, ClientFrame, FrameError, observations_frame, parse_client_frame


def test_a_resync_request_is_understood() -> None:
    assert parse_client_frame('{"type": "resync"}', None) == ClientFrame("resync")


def test_an_acknowledgement_names_the_publication_the_browser_applied() -> None:
    assert parse_client_frame('{"type": "ack", "seq": 1234}', None) == ClientFrame("ack", 1234)


@pytest.mark.parametrize(
    ("text", "data", "message"),
    [
        (None, b"\x00\xff", "binary frames are not accepted"),
        ("resync", None, "not JSON"),
        ("", None, "not JSON"),
        ("[" * 100_000, None, "too large"),
        ("[" * 3000 + "]" * 3000, None, "too large"),
        ("[" * 2000 + "]" * 2000, None, "nested too deeply"),
        ('["resync"]', None, "must be a JSON object"),
        ('{"type": "drop-tables"}', None, "unknown frame type"),
        ('{"type": 5}', None, "unknown frame type"),
        ('{"kind": "resync"}', None, "unknown frame type"),
        ('{"type": "resync", "since": 0}', None, "unexpected fields"),
        ('{"type": "resync"', None, "not JSON"),
        ('{"type": "ack"}', None, "lacks seq"),
        ('{"type": "ack", "seq": -1}', None, "whole number"),
        ('{"type": "ack", "seq": "12"}', None, "whole number"),
        ('{"type": "ack", "seq": 1.5}', None, "whole number"),
        ('{"type": "ack", "seq": true}', None, "whole number"),
        ('{"type": "ack", "seq": 1e400}', None, "whole number"),
        ('{"type": "ack", "seq": 99999999999999999999999}', None, "whole number"),
        ('{"type": "ack", "seq": 1, "all": true}', None, "unexpected fields"),
    ],
    ids=["binary", "bare-word", "empty", "huge", "deep-and-large", "deep", "array", "unknown-type",
         "type-not-string", "no-type", "extra-field", "truncated", "ack-without-seq", "ack-negative",
         "ack-string", "ack-fraction", "ack-boolean", "ack-infinite", "ack-huge", "ack-extra-field"],
)
def test_broken_and_hostile_frames_are_refused_with_a_reason(
    text: str | None, data: bytes | None, message: str
) -> None:
    with pytest.raises(FrameError, match=message):
        parse_client_frame(text, data)


def test_the_size_limit_is_about_what_a_resync_needs() -> None:
    assert MAX_CLIENT_FRAME < 10_000


def test_a_delta_frame_carries_its_publication_number() -> None:
    frame = json.loads(observations_frame(3, [{"id": 7}, {"id": 8}], {}))
    assert (frame["type"], frame["seq"]) == ("observations", 3)


def test_pages_sharing_a_delivered_publication_share_one_encoding_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # channels_redis hands every page of a process the same message: a hundred pages, one encoding.
    encodings: list[int] = []
    encode = frames.observations_frame
    monkeypatch.setattr(frames, "observations_frame", lambda *args: encodings.append(1) or encode(*args))
    delivered = {"type": "observations.added", "seq": 4, "observations": [{"id": 9}], "sequence": {}, "traffic": []}
    sent = [frames.publication_frame(delivered) for _ in range(100)]
    assert len(encodings) == 1
    assert sent == [encode(4, [{"id": 9}], {})] * 100
    assert frames.publication_frame(dict(delivered, seq=5)) != sent[0]  # another message, its own frame
