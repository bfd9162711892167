"""Recorded real daemon event streams (tests/data/*.jsonl, taken from the lab), in the store's wire shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archviz.models import StoredObservation
from archviz.sources.daemon import observation_from_event

DATA = Path(__file__).parent / "data"
LAB_HOST = "unix:///tmp/archviz-lab/docker.sock"


def recorded(*names: str, shift_ns: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """The named recordings, one after another, as observations with store ids 1, 2, …; `shift_ns`
    moves the observation at a (0-based) position and all after it later in time."""
    observations = []
    for name in names:
        for line in (DATA / f"{name}.jsonl").read_text().splitlines():
            observations.append(observation_from_event(json.loads(line), LAB_HOST))
    wire = []
    shift = 0
    for index, observation in enumerate(observations):
        shift += (shift_ns or {}).get(index, 0)
        row = StoredObservation.from_observation(observation)
        row.pk, row.time_ns = index + 1, row.time_ns + shift
        wire.append(row.to_wire())
    return wire


SCENARIOS = DATA / "scenarios"


def scenario(name: str) -> list[dict[str, Any]]:
    """A recorded session through the tap (tests/data/scenarios/NAME.jsonl), as the store held it."""
    return [json.loads(line) for line in (SCENARIOS / f"{name}.jsonl").read_text().splitlines() if line.strip()]


def registry_v3_events() -> list[dict[str, Any]]:
    """What distribution 3.1.1 sent for a push, pull and delete session (tests/data/registry/v3_session.json), one
    event per delivery as it came."""
    return [json.loads(delivery["body"])["events"][0]
            for delivery in json.loads((DATA / "registry" / "v3_session.json").read_text())]
