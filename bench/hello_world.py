"""`docker run hello-world`, typed as the lesson types it, through the API tap of a warm lab (target: 1 s or less).

Starts its own lab (whose registry is the daemon's Docker Hub stand-in) and `manage.py tap` in front of its daemon,
then times the docker CLI, through the tap, RUNS times with the image already pulled (the lab warm: what a class
sees from its second run on) and RUNS times with the image removed before each run (every run pulls it through the
mirror first); the removals are not timed. Prints the median and the worst of each.
Run: .venv/bin/python bench/hello_world.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from bench.tapped_lab import tapped_lab  # noqa: E402

TARGET_SECONDS = 1.0
MAX_RUNS = 50


def timed_run(docker: str, tap: Path) -> float:
    began = time.monotonic()
    ran = subprocess.run([docker, "run", "hello-world"], env={**os.environ, "DOCKER_HOST": f"unix://{tap}"},
                         capture_output=True, text=True, timeout=60)
    took = time.monotonic() - began
    if ran.returncode != 0 or "Hello from archviz's lab stand-in" not in ran.stdout:
        sys.exit(f"docker run hello-world failed: {ran.stderr}")
    return took


def report(name: str, times: list[float]) -> None:
    verdict = "within" if statistics.median(times) <= TARGET_SECONDS else "OVER"
    print(f"{name}: median {statistics.median(times):.3f} s, worst {max(times):.3f} s over {len(times)} runs "
          f"({verdict} the {TARGET_SECONDS:.0f} s target by the median)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10, help=f"runs each way (at most {MAX_RUNS})")
    runs = min(parser.parse_args().runs, MAX_RUNS)
    docker = shutil.which("docker")
    if docker is None:
        sys.exit("the docker CLI comes with Debian's docker.io")
    with tapped_lab("avhello") as (lab, tap):
        client = lab.client()
        try:
            timed_run(docker, tap)  # the first pull, and the daemon's caches, warm
            warm = [timed_run(docker, tap) for _ in range(runs)]
            pulling = []
            for _ in range(runs):
                client.containers.prune()
                client.images.remove("hello-world", force=True)
                pulling.append(timed_run(docker, tap))
            client.containers.prune()
        finally:
            client.close()
    report("docker run hello-world, image present", warm)
    report("docker run hello-world, pulled first through the mirror", pulling)


if __name__ == "__main__":
    main()
