"""Record each lesson from the lab as a ready-made session, so a class can replay it where no daemon runs.

For each lesson (all, or those named) this writes archviz/classroom/shipped/NAME.json, the session of its run, and
tests/data/lessons/NAME.mmd, the Mermaid the dashboard exports for that session (the golden file of
tests/test_sessions.py).

1. Start a private lab (dockerd and registries on a temporary socket and free loopback ports) and one
   `manage.py serve` in front of it, in a fresh database, with the API tap on the lab's tap.sock and the registry's
   webhook token; wait until its watcher streams the daemon's events.
2. Per lesson: reset the lab daemon to the base image alone (straight to it), and wait until the store is quiet.
3. Run `manage.py lesson run NAME --no-countdown` through the tap, as a teacher would, with the remote lesson's TLS
   tap on a free port; read the time range it prints.
4. Wait until the store is quiet (the registry may deliver late); keep the range with `session save`, export it with
   `session export`, and write it under the lesson's name with the lab's temporary paths and ports replaced by the
   stable ones below (the lab's folder, its registries, the TLS tap's port).
5. Ask the dashboard for `/api/sequence.mmd?session=NAME`, which reads the shipped file, and write it as the golden.
A lesson that fails is reported and not written; the others still are.

Run as root (the lab runs its own dockerd): .venv/bin/python scripts/record_lessons.py [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import record_scenarios as recording  # noqa: E402
from record_scenarios import ScenarioFailed as LessonFailed  # noqa: E402

from archviz.lab import Lab  # noqa: E402
from archviz.lessons.lesson import Lesson, catalogue  # noqa: E402

SHIPPED = ROOT / "archviz" / "classroom" / "shipped"
GOLDEN = ROOT / "tests" / "data" / "lessons"
STABLE_REMOTE = "127.0.0.1:2376"
RANGE = re.compile(r"--since ([0-9.]+) --until ([0-9.]+)")
LESSON_SECONDS = 300


def manage(env: dict[str, str], *args: str) -> str:
    """`manage.py ARGS` in the dashboard's environment; its output, or LessonFailed with what it said."""
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=LESSON_SECONDS)
    if done.returncode != 0:
        raise LessonFailed(f"manage.py {' '.join(args[:3])} exited {done.returncode}:\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def record(lesson: Lesson, lab: Lab, env: dict[str, str], port: int) -> int:
    """Record one lesson (steps 2 to 5 of the module docstring); returns how many observations its session holds."""
    data_dir = Path(env["ARCHVIZ_DATA_DIR"])
    recording.reset(lab)
    recording.wait_store_quiet(data_dir)
    remote_port = recording.free_port()
    said = manage(env, "lesson", "run", lesson.name, "--no-countdown", "--tap", f"unix://{lab.tap_socket}",
                  "--daemon", lab.docker_host, "--remote-port", str(remote_port))
    found = RANGE.search(said)
    if found is None:
        raise LessonFailed(f"the run printed no time range:\n{said[-2000:]}")
    recording.wait_store_quiet(data_dir)
    kept = f"recorded-{lesson.name}"
    manage(env, "session", "save", kept, "--since", found[1], "--until", found[2])
    exported = manage(env, "session", "export", kept)
    stable = {str(lab.root): recording.STABLE_LAB, lab.registry_address: recording.REG,
              lab.auth_registry_address: recording.AUTH_REG, f"127.0.0.1:{remote_port}": STABLE_REMOTE}
    for temporary, fixed in stable.items():
        exported = exported.replace(temporary, fixed)
    session = json.loads(exported) | {"name": lesson.name, "title": f"{lesson.title} (recorded in the lab)"}
    (SHIPPED / f"{lesson.name}.json").write_text(json.dumps(session, indent=1, ensure_ascii=False) + "\n")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sequence.mmd?session={lesson.name}",
                                timeout=30) as response:
        (GOLDEN / f"{lesson.name}.mmd").write_bytes(response.read())
    return len(session["observations"])


def serve(lab: Lab, port: int, data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`manage.py serve` with the tap on the lab's tap.sock (step 1); returns it once its watcher streams."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHVIZ_", "DATABASE_URL", "REDIS_URL"))}
    env.update(ARCHVIZ_DATA_DIR=str(data_dir), DOCKER_HOST=lab.docker_host,
               ARCHVIZ_TAP_SOCKET=f"unix://{lab.tap_socket}", ARCHVIZ_REGISTRY_TOKEN=lab.webhook_token,
               DJANGO_SETTINGS_MODULE="dashboard.settings", PYTHONUNBUFFERED="1")
    manage(env, "migrate", "-v0")
    with (data_dir / "serve.log").open("wb") as log:
        server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def ready() -> bool:
        if server.poll() is not None:
            raise LessonFailed(f"serve exited: {(data_dir / 'serve.log').read_text(errors='replace')}")
        return (recording.answers(f"http://127.0.0.1:{port}/api/health") and lab.tap_socket.exists()
                and recording.count_rows(data_dir, "watcher-connected") > 0)

    recording.wait_until(ready, "serve, its tap and its watcher starting")
    return server, env


def main() -> None:
    lessons = {lesson.name: lesson for lesson in catalogue()}
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Lessons: " + ", ".join(lessons) + ".")
    parser.add_argument("names", nargs="*", metavar="NAME", help="lessons to record (default: all)")
    names = parser.parse_args().names or list(lessons)
    unknown = [name for name in names if name not in lessons]
    if unknown:
        parser.error(f"unknown lessons: {', '.join(unknown)}")

    GOLDEN.mkdir(parents=True, exist_ok=True)
    port = recording.free_port()
    lab = Lab(Path(tempfile.mkdtemp(prefix="avlab-", dir="/tmp")), registry_port=recording.free_port(),
              auth_registry_port=recording.free_port(), webhooks=(f"http://127.0.0.1:{port}/hooks/registry/",))
    data_dir = Path(tempfile.mkdtemp(prefix="avlessons-data-"))
    failed = []
    began = time.monotonic()
    server = None
    try:
        lab.up(say=print)
        server, env = serve(lab, port, data_dir)
        for name in names:
            print(f"{name}:")
            try:
                print(f"  {record(lessons[name], lab, env, port)} observations")
            except (LessonFailed, subprocess.TimeoutExpired) as error:
                print(f"  FAILED: {error}")
                failed.append(name)
    finally:
        if server is not None:
            recording.stop(server)
        lab.down(say=print)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"recorded {len(names) - len(failed)} of {len(names)} lessons in {time.monotonic() - began:.0f} s")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
