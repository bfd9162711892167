"""The API tap's cost: `docker run --rm` and `docker save` through the tap against the same daemon directly.

Starts its own lab and `manage.py tap` in front of the lab daemon, then prints
- the wall time of 50 × `docker run --rm BASE true`, direct and through the tap (alternating), and their ratio;
- the throughput of `docker save` of an image of over 200 MB (random data, so nothing compresses), direct and
  through the tap (three runs each, alternating, median), and their ratio.
Run: .venv/bin/python bench/tap_overhead.py
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from bench.tapped_lab import tapped_lab  # noqa: E402

DOCKER = shutil.which("docker") or "docker"


def timed(address: str, *args: str, runs: int = 1) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([DOCKER, *args], env={**os.environ, "DOCKER_HOST": address}, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    with tapped_lab("avtapb") as (lab, listen):
        client = lab.client(timeout=600)
        dockerfile = f"FROM {lab.base_image}\nRUN dd if=/dev/urandom of=/big bs=1048576 count=210\n".encode()
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as archive:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile)
            archive.addfile(info, io.BytesIO(dockerfile))
        image, _ = client.images.build(fileobj=io.BytesIO(context.getvalue()), custom_context=True, tag="bench/big:1")
        size = image.attrs["Size"]
        client.close()
        tapped = f"unix://{listen}"
        timed(lab.docker_host, "run", "--rm", lab.base_image, "true")  # warm up
        # Direct and tapped runs alternate, so that whatever else the machine does weighs on both alike.
        direct_runs = tapped_runs = 0.0
        for _ in range(50):
            direct_runs += timed(lab.docker_host, "run", "--rm", lab.base_image, "true")[0]
            tapped_runs += timed(tapped, "run", "--rm", lab.base_image, "true")[0]
        print(f"50 × docker run --rm: direct {direct_runs:.2f} s, through the tap {tapped_runs:.2f} s, "
              f"ratio {tapped_runs / direct_runs:.3f} (target <= 1.05)")
        saves: dict[str, list[float]] = {lab.docker_host: [], tapped: []}
        for _ in range(3):
            for address, times in saves.items():
                times += timed(address, "save", "bench/big:1")
        direct_save, tapped_save = statistics.median(saves[lab.docker_host]), statistics.median(saves[tapped])
        megabytes = size / 1e6
        print(f"docker save of {megabytes:.0f} MB: direct {megabytes / direct_save:.0f} MB/s, through the tap "
              f"{megabytes / tapped_save:.0f} MB/s, ratio {direct_save / tapped_save:.3f} (target >= 0.8)")


if __name__ == "__main__":
    main()
