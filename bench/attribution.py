"""Attribution of 100,000 recorded observations: the whole diagram (`sequence`, as the Mermaid export and a
snapshot fold it) and the live fold (`Sequencer.add`, one observation at a time), in seconds.

The observations are the recorded scenarios of tests/data/scenarios/, repeated one after another (each copy later
in time, with its own ids, spans and client processes) until there are 100,000. Target: ≤ 2 s.
Run: .venv/bin/python bench/attribution.py [--count N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from archviz.sequence import Sequencer, sequence

SCENARIOS = Path(__file__).resolve().parent.parent / "tests" / "data" / "scenarios"


def corpus(count: int) -> list[dict[str, Any]]:
    recorded = [json.loads(line) for path in sorted(SCENARIOS.glob("*.jsonl"))
                for line in path.read_text().splitlines() if line.strip()]
    if not recorded:
        raise SystemExit(f"no recorded scenarios in {SCENARIOS}: run scripts/record_scenarios.py first")
    first = min(int(o["time_ns"]) for o in recorded)
    last = max(int(o["time_ns"]) for o in recorded)
    out: list[dict[str, Any]] = []
    copy = 0
    while len(out) < count:
        shift = copy * (last - first + 10_000_000_000)
        for observation in recorded:
            attributes = dict(observation["attributes"])
            if attributes.get("span"):
                attributes["span"] = f"{attributes['span']}#{copy}"
            if attributes.get("pid"):
                attributes["pid"] = int(attributes["pid"]) + copy * 100_000
            out.append({**observation, "id": len(out) + 1, "time_ns": str(int(observation["time_ns"]) + shift),
                        "attributes": attributes})
            if len(out) == count:
                break
        copy += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="how many observations (default 100,000)")
    arguments = parser.parse_args()
    observations = corpus(arguments.count)
    started = time.perf_counter()
    diagram = sequence(observations)
    whole = time.perf_counter() - started
    sequencer = Sequencer()
    started = time.perf_counter()
    for observation in observations:
        sequencer.add(observation)
    live = time.perf_counter() - started
    inferred = sum(1 for m in diagram.messages if m.inferred)
    print(f"{len(observations):,} observations -> {len(diagram.messages):,} messages in "
          f"{len(diagram.interactions):,} boxes ({inferred:,} inferred arrows)")
    print(f"whole diagram (sequence): {whole:.2f} s   (target <= 2 s)")
    print(f"live fold (Sequencer.add): {live:.2f} s, {live / len(observations) * 1e6:.1f} us per observation")


if __name__ == "__main__":
    main()
