"""The recorded scenario corpus (tests/data/scenarios/, made by scripts/record_scenarios.py) is whole: every
recording parses, is numbered from 1 with no gap, holds at least one tapped request, and says what was typed."""

from __future__ import annotations

import json
from pathlib import Path

SCENARIOS = Path(__file__).parent / "data" / "scenarios"


def test_every_recorded_scenario_parses_is_numbered_from_one_and_holds_a_tapped_request() -> None:
    recordings = sorted(SCENARIOS.glob("*.jsonl"))
    assert len(recordings) >= 20
    for path in recordings:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert [row["id"] for row in rows] == list(range(1, len(rows) + 1)), path.name
        assert any(row["kind"] == "api-request" for row in rows), path.name
        assert path.with_suffix(".txt").exists(), path.name
