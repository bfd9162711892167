"""A private lab with `manage.py tap` in front of its daemon, for the benchmarks that compare direct and tapped."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archviz.lab import Lab
from tests.conftest import ROOT, dashboard_env, free_port


@contextmanager
def tapped_lab(prefix: str) -> Iterator[tuple[Lab, Path]]:
    """Start a lab and the tap (listening on a unix socket); yield both; stop both, whatever happened."""
    lab = Lab(Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir="/tmp")), registry_port=free_port(),
              auth_registry_port=free_port())
    data = Path(tempfile.mkdtemp(prefix=f"avbench-{prefix}-"))
    lab.up(say=lambda line: None)
    listen = Path(f"/tmp/{prefix}-{os.getpid()}.sock")
    env = dashboard_env(data, lab.docker_host)
    tap = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        tap = subprocess.Popen([sys.executable, "manage.py", "tap", "--listen", f"unix://{listen}"], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL)
        while not listen.exists():
            time.sleep(0.05)
        yield lab, listen
    finally:
        if tap is not None:
            tap.terminate()
            tap.wait(timeout=15)
        lab.down(say=lambda line: None)
