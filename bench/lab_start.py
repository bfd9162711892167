"""How long `Lab.up()` takes: a fresh lab folder each time, as the test suite and the benchmarks start theirs.

Starts RUNS labs one after another with the machine's stand-in cache as it is (built already after the first lab
ever), then one with an empty cache of its own (the Docker Hub stand-in built first), stopping each; prints the
median and the worst of the first, and the one with an empty cache.
Run: .venv/bin/python bench/lab_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archviz.lab import Lab  # noqa: E402
from archviz.lab.hub import default_cache  # noqa: E402

MAX_RUNS = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_once(cache: Path) -> float:
    root = Path(tempfile.mkdtemp(prefix="avstart-", dir="/tmp"))
    lab = Lab(root, registry_port=free_port(), auth_registry_port=free_port(), cache=cache)
    began = time.monotonic()
    try:
        lab.up(say=lambda line: None)
        return time.monotonic() - began
    finally:
        lab.down(say=lambda line: None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help=f"labs started with the cache warm (at most {MAX_RUNS})")
    runs = min(parser.parse_args().runs, MAX_RUNS)
    start_once(default_cache())  # the machine's cache holds the stand-ins from here on
    warm = [start_once(default_cache()) for _ in range(runs)]
    with tempfile.TemporaryDirectory(prefix="avstart-cache-") as empty:
        cold = start_once(Path(empty))
    print(f"lab up, stand-ins cached: median {statistics.median(warm):.2f} s, worst {max(warm):.2f} s over {runs} "
          f"starts; with an empty cache (stand-ins built first): {cold:.2f} s")


if __name__ == "__main__":
    main()
