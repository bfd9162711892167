"""Golden files: each recorded scenario (tests/data/scenarios/NAME.jsonl, real sessions through the tap) and the
diagram people see for it (NAME.mmd, the Mermaid export), side by side; a change in drawing shows as a diff.
After a deliberate change, rewrite them with `ARCHVIZ_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/test_scenarios_golden.py` and read the diff before committing it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from archviz.sequence import sequence
from archviz.sequence.mermaid import to_mermaid

SCENARIOS = Path(__file__).parent / "data" / "scenarios"
NAMES = sorted(path.stem for path in SCENARIOS.glob("*.jsonl"))


@pytest.mark.parametrize("name", NAMES)
def test_a_recorded_scenario_draws_its_golden_diagram(name: str) -> None:
    rows = [json.loads(line) for line in (SCENARIOS / f"{name}.jsonl").read_text().splitlines() if line.strip()]
    drawn = to_mermaid(sequence(rows))
    golden = SCENARIOS / f"{name}.mmd"
    if os.environ.get("ARCHVIZ_UPDATE_GOLDEN"):
        golden.write_text(drawn)
    assert drawn == golden.read_text()


def test_every_scenario_has_a_golden_diagram() -> None:
    assert len(NAMES) >= 20
    assert sorted(path.stem for path in SCENARIOS.glob("*.mmd")) == NAMES
