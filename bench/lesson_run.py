"""`manage.py lesson run NAME` against a served lab with the API tap: how long the whole run takes against the typed
commands' own time (target: within 10 s of it).

Starts its own lab and `manage.py serve` with the tap in front of the lab's daemon, then runs each lesson (all, or
those named) once with `--no-countdown`, timing the whole `manage.py` process from start to exit; the commands' own
time is what the run itself reports (each typed command from its start to its exit, added up). The countdown and
the typing effect are left out: they are pauses for a class, 3 s and about a second per command by default.
Run: .venv/bin/python bench/lesson_run.py [NAME ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from archviz.lab import Lab  # noqa: E402
from archviz.lessons.lesson import catalogue  # noqa: E402
from tests.conftest import dashboard_env, free_port, served_with_tap  # noqa: E402

TARGET_SECONDS = 10.0
OWN = re.compile(r"^Done: \d+ commands? in ([0-9.]+) s of their own", re.MULTILINE)


def main() -> None:
    known = [lesson.name for lesson in catalogue()]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"lessons to run (default: all: {', '.join(known)})")
    names = parser.parse_args().names or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown lessons: {', '.join(unknown)}")

    port = free_port()
    lab = Lab(Path(tempfile.mkdtemp(prefix="avbench-lesson-", dir="/tmp")), registry_port=free_port(),
              auth_registry_port=free_port(), webhooks=(f"http://127.0.0.1:{port}/hooks/registry/",))
    data = Path(tempfile.mkdtemp(prefix="avbench-lesson-data-"))
    lab.up(say=lambda line: None)
    over = []
    try:
        with served_with_tap(lab, port, data) as tap:
            env = dashboard_env(data, lab.docker_host)
            for name in names:
                began = time.monotonic()
                ran = subprocess.run([sys.executable, "manage.py", "lesson", "run", name, "--no-countdown", "--tap",
                                      tap, "--daemon", lab.docker_host], cwd=ROOT, env=env, capture_output=True,
                                     text=True, timeout=300)
                took = time.monotonic() - began
                found = OWN.search(ran.stdout)
                if ran.returncode != 0 or found is None:
                    sys.exit(f"lesson run {name} failed:\n{ran.stdout[-2000:]}{ran.stderr[-2000:]}")
                own = float(found[1])
                verdict = "within" if took - own <= TARGET_SECONDS else "OVER"
                if verdict == "OVER":
                    over.append(name)
                print(f"{name}: the run took {took:.2f} s, its typed commands {own:.2f} s of their own: "
                      f"{took - own:.2f} s more ({verdict} the {TARGET_SECONDS:.0f} s target)")
    finally:
        lab.down(say=lambda line: None)
        shutil.rmtree(data, ignore_errors=True)
    if over:
        sys.exit(f"over the target: {', '.join(over)}")


if __name__ == "__main__":
    main()
