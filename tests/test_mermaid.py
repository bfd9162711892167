from __future__ import annotations

from archviz.sequence import sequence
from archviz.sequence.mermaid import MERMAID_LIMIT, escape, to_mermaid
from tests.recorded import recorded


def test_a_run_of_a_missing_image_exports_as_a_box_with_an_alt() -> None:
    text = to_mermaid(sequence(recorded("run_missing_image")))
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "sequenceDiagram"
    assert lines[1:5] == [
        "participant p1 as Client (inferred)", "participant p2 as Daemon docker.sock",
        "participant p3 as Registry 127.0.0.1:5000", "participant p4 as Runtime (containerd)",
    ]
    assert lines[5:9] == [
        "rect rgba(120, 130, 150, 0.12)", "Note over p1,p2: docker run 127.0.0.1:5000/lab/app:1 (inferred)",
        "alt image not found locally", "p1->>p2: pull 127.0.0.1:5000/lab/app:1",
    ]
    assert "p3-->>p2: manifest and layers" in lines
    assert lines.index("p2-->>p1: pulled 127.0.0.1:5000/lab/app:1") + 1 == lines.index("end")
    assert lines[-2:] == ["p2->>p2: remove container web-1", "end"]
    assert lines.count("end") == 2


def test_labels_cannot_break_out_of_their_line() -> None:
    hostile = 'a<script>alert("x")</script>; b\nNote over p1: injected %% #comment'
    escaped = escape(hostile)
    assert "\n" not in escaped and ";" not in escaped.replace("#60;", "").replace("#62;", "").replace(
        "#59;", "").replace("#35;", "").replace("#37;", "")
    assert "<" not in escaped and ">" not in escaped and "%%" not in escaped
    assert escaped.startswith("a#60;script#62;alert(\"x\")")


def test_a_long_range_is_cut_to_the_limit_with_a_note() -> None:
    observations = recorded(*(["run_missing_image", "failing_container"] * 200))
    diagram = sequence(observations)
    text = to_mermaid(diagram)
    assert len(text) <= MERMAID_LIMIT
    assert "arrows (Mermaid's 50,000-character limit), narrow the time range" in text
    assert f"of {len(diagram.messages)} arrows" in text
    opened = sum(line.strip().startswith(("rect ", "alt ")) for line in text.splitlines())
    assert opened == text.splitlines().count("    end")


def test_an_empty_range_still_parses_and_says_so() -> None:
    assert "nothing happened in this range" in to_mermaid(sequence([]))
