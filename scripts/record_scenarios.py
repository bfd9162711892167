"""Record the scenario corpus: real docker CLI sessions through the API tap, as archviz stored them.

For each scenario (all of them, or those named) this writes tests/data/scenarios/NAME.jsonl, every stored
observation in id order in its wire shape (`StoredObservation.to_wire()`), and NAME.txt, the commands as typed.

1. Start a private lab (dockerd and registries on a temporary socket and free loopback ports) once for all scenarios;
   while no dashboard runs, a drain answers the registry's notifications on the webhook port and drops them.
2. Per scenario: reset the lab daemon to the base image alone, write the scenario's files into a fresh working
   folder, and run its setup straight against the lab daemon (so none of it is recorded); wait until the registry's
   notifications of the setup have been drained.
3. Start a fresh `manage.py serve` (its own database, the tap on a fresh socket, the registry's webhook token) and
   wait until its watcher streams the daemon's events.
4. Run the scenario's commands with the docker CLI through the tap, from the working folder.
5. Wait until the store is quiet (the registry may deliver late), stop serve, and dump its store: watcher link rows
   dropped, ids renumbered from 1, the lab's temporary paths and ports replaced by the stable ones below.

A command line is run as the shell would: ending in `&` it runs in the background until a `wait` line; `sleep N`
pauses; `# exits N` says the command is expected to end with status N (else 0). In commands, `127.0.0.1:5000` stands
for the lab registry's real address. A scenario whose setup or commands end otherwise is reported and not written.

Run as root (the lab runs its own dockerd): .venv/bin/python scripts/record_scenarios.py [NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from docker.errors import NotFound

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archviz.lab import Lab  # noqa: E402

OUT = ROOT / "tests" / "data" / "scenarios"
# The stable names written into the recordings in place of the lab's temporary ones.
STABLE_LAB = "/tmp/archviz-lab"
STABLE_TAP = "/tmp/archviz-lab/archviz.sock"
REG = "127.0.0.1:5000"
AUTH_REG = "127.0.0.1:5001"
BASE = f"{REG}/lab/busybox:1"
WATCHER_LINK_KINDS = frozenset({"watcher-connected", "watcher-unreachable"})
QUIET_SECONDS = 2.5
COMMAND_SECONDS = 120.0
EXPECTED_EXIT = re.compile(r"\s+#\s*exits (\d+)$")

# Dockerfiles the scenarios build from, in setup or in their recorded commands.
BASE2_DOCKERFILE = f"FROM {BASE}\nRUN echo base2 > /base2.txt\n"
WEB_DOCKERFILE = f"FROM {REG}/lab/base2:1\nRUN echo hello > /hello.txt\n"
APP_DOCKERFILE = f"FROM {BASE}\nRUN echo app > /app.txt\n"
PUSHED_DOCKERFILE = f"FROM {BASE}\nRUN echo pushed > /pushed.txt\n"
BUILD_APP_AND_REMOVE_IT = (f"docker build -t {REG}/lab/app:1 -f app.Dockerfile .", f"docker push {REG}/lab/app:1",
                           f"docker rmi {REG}/lab/app:1")


@dataclass(frozen=True)
class Scenario:
    """What a person does with the docker CLI (`commands`), from a lab prepared by `setup` and `files`."""

    name: str
    about: str
    commands: tuple[str, ...]
    setup: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)


SCENARIOS = (
    Scenario("build-missing-base", "a build whose FROM image the daemon has to pull first",
             ("docker build -t web .",),
             setup=(f"docker build -t {REG}/lab/base2:1 -f base2.Dockerfile .", f"docker push {REG}/lab/base2:1",
                    f"docker rmi {REG}/lab/base2:1"),
             files={"base2.Dockerfile": BASE2_DOCKERFILE, "Dockerfile": WEB_DOCKERFILE}),
    Scenario("build-present-base", "a build whose FROM image is already here (and nothing is cached)",
             ("docker build -t web2 .",),
             setup=(f"docker build -t {REG}/lab/base2:1 -f base2.Dockerfile .",),
             files={"base2.Dockerfile": BASE2_DOCKERFILE, "Dockerfile": WEB_DOCKERFILE}),
    Scenario("build-failing", "a build whose RUN step fails",
             ("docker build -t broken .  # exits 3",),
             files={"Dockerfile": f"FROM {BASE}\nRUN exit 3\n"}),
    Scenario("run-detached-exec-stop-rm", "a detached container, a command run in it, then stopped and removed",
             (f"docker run -d --name c1 {BASE} sleep 30", "docker exec c1 cat /etc/hostname", "docker stop -t 1 c1",
              "docker rm c1")),
    Scenario("run-missing-image", "docker run of an image the daemon has to pull first",
             (f"docker run --rm {REG}/lab/app:1 echo hi",),
             setup=BUILD_APP_AND_REMOVE_IT, files={"app.Dockerfile": APP_DOCKERFILE}),
    Scenario("run-rm-present", "docker run --rm of an image that is here",
             (f"docker run --rm {BASE} echo hi",)),
    Scenario("run-exit-code", "a container that exits with status 3",
             (f"docker run --rm {BASE} sh -c 'exit 3'  # exits 3",)),
    Scenario("tag-rmi", "a second name for an image, then removed (only the name goes)",
             (f"docker tag {BASE} {REG}/lab/copy:2", f"docker rmi {REG}/lab/copy:2")),
    Scenario("pull", "a pull of an image that is not here",
             (f"docker pull {REG}/lab/app:1",),
             setup=BUILD_APP_AND_REMOVE_IT, files={"app.Dockerfile": APP_DOCKERFILE}),
    Scenario("pull-hub-mirror", "docker pull nginx, answered by the lab's Docker Hub stand-in (dockerd's mirror)",
             ("docker pull nginx",)),
    Scenario("run-hello-world", "docker run hello-world, the image pulled through the mirror first",
             ("docker run hello-world",)),
    Scenario("pull-present", "a pull of an image that is already here and up to date",
             (f"docker pull {BASE}",)),
    Scenario("pull-unknown", "a pull of an image the registry does not have",
             (f"docker pull {REG}/lab/nothere:1  # exits 1",)),
    Scenario("push-new", "a push of an image with a layer the registry has never seen",
             (f"docker push {REG}/lab/pushed:1",),
             setup=(f"docker build -t {REG}/lab/pushed:1 -f pushed.Dockerfile .",),
             files={"pushed.Dockerfile": PUSHED_DOCKERFILE}),
    Scenario("push-again", "a second push of an image: the registry has every layer already",
             (f"docker push {REG}/lab/again:1",),
             setup=(f"docker build -t {REG}/lab/again:1 -f pushed.Dockerfile .", f"docker push {REG}/lab/again:1"),
             files={"pushed.Dockerfile": PUSHED_DOCKERFILE}),
    Scenario("logs-follow-and-stop", "one client follows a container's logs while another stops it",
             ("docker logs -f lf &", "sleep 1", "docker stop -t 1 lf", "wait", "docker rm lf"),
             setup=(f"docker run -d --name lf {BASE} sh -c 'while true; do echo tick; sleep 0.2; done'",)),
    Scenario("compose-like-burst", "three containers started at once, then removed together",
             (f"docker run -d --name s1 {BASE} sleep 5 &", f"docker run -d --name s2 {BASE} sleep 5 &",
              f"docker run -d --name s3 {BASE} sleep 5 &", "wait", "docker rm -f s1 s2 s3")),
    Scenario("cp", "files copied out of and into a running container",
             (f"docker run -d --name cpc {BASE} sleep 30", "docker cp cpc:/etc/hostname x", "docker cp x cpc:/tmp/y",
              "docker rm -f cpc")),
    Scenario("commit", "a container's changes committed as an image, then both removed",
             (f"docker run --name cm {BASE} sh -c 'echo a > /a'", "docker commit cm lab/committed:1", "docker rm cm",
              "docker rmi lab/committed:1")),
    Scenario("save-load", "an image saved to a tar file and loaded back",
             (f"docker save {BASE} -o s.tar", "docker load -i s.tar")),
    Scenario("images-ps-inspect", "the usual looking around: lists and an inspect",
             ("docker images", "docker ps -a", f"docker inspect {BASE}")),
    # The lab daemon has no bridge (and must create none): the only network it could create is refused.
    Scenario("network", "networks looked at, and a network the daemon refuses to create",
             ("docker network create --driver null n1  # exits 1", "docker network ls", "docker network inspect none")),
    Scenario("volume", "a named volume created, used by a container and removed",
             ("docker volume create v1", "docker volume ls",
              f"docker run --rm -v v1:/data {BASE} sh -c 'echo x > /data/x'", "docker volume rm v1")),
    Scenario("exec-secret", "an exec whose command line and output hold a password",
             (f"docker run -d --name sec {BASE} sleep 30", "docker exec sec sh -c 'echo PGPASSWORD=hunter2'",
              "docker rm -f sec")),
    Scenario("restart-pause", "a container paused, unpaused, restarted and removed",
             (f"docker run -d --name rp {BASE} sleep 30", "docker pause rp", "docker unpause rp",
              "docker restart -t 1 rp", "docker rm -f rp")),
    Scenario("kill", "a container killed, then removed",
             (f"docker run -d --name k1 {BASE} sleep 30", "docker kill k1", "docker rm k1")),
)

# Run in a child process with the dashboard's environment: its settings read ARCHVIZ_DATA_DIR at import.
DUMP = """
import json
import django
django.setup()
from archviz.models import StoredObservation
for row in StoredObservation.objects.order_by("id"):
    print(json.dumps(row.to_wire()))
"""


class ScenarioFailed(Exception):
    """A setup or recorded command ended otherwise than the scenario says."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Drain:
    """Answers the registry's notifications with 200 and drops them, while no dashboard listens on the port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.last_post = time.monotonic()
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        drain = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                drain.last_post = time.monotonic()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_quiet(self) -> None:
        while time.monotonic() - self.last_post < QUIET_SECONDS:
            time.sleep(0.2)


def client_env(docker_host: str, config: Path) -> dict[str, str]:
    """The docker CLI's environment: the given daemon, the classic builder, a config folder of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "ARCHVIZ_"))}
    env.update(DOCKER_HOST=docker_host, DOCKER_BUILDKIT="0", DOCKER_CONFIG=str(config), DOCKER_CLI_HINTS="false")
    return env


def run_lines(lines: tuple[str, ...], env: dict[str, str], cwd: Path, registry: str) -> None:
    """Run command lines as described in the module docstring; ScenarioFailed when one ends unexpectedly."""
    background: list[Command] = []
    try:
        for line in lines:
            print(f"  $ {line}")
            if line == "wait":
                while background:
                    background.pop(0).finish()
                continue
            expected = EXPECTED_EXIT.search(line)
            argv = shlex.split(EXPECTED_EXIT.sub("", line).replace(REG, registry))
            if argv[0] == "sleep":
                time.sleep(float(argv[1]))
                continue
            in_background = argv[-1] == "&"
            command = Command(line, int(expected.group(1)) if expected else 0,
                              argv[:-1] if in_background else argv, env, cwd)
            if in_background:
                background.append(command)
            else:
                command.finish()
        if background:
            raise ScenarioFailed(f"background commands with no `wait` after them: {[c.line for c in background]}")
    finally:
        for command in background:
            command.process.kill()
            command.process.wait()


class Command:
    """One docker CLI process, its output kept aside for when it ends otherwise than expected."""

    def __init__(self, line: str, expected: int, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.line, self.expected = line, expected
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish(), once the process has ended)
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self.output,
                                        stderr=subprocess.STDOUT)

    def finish(self) -> None:
        try:
            status = self.process.wait(COMMAND_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self.output.seek(0)
        text = self.output.read().decode(errors="replace")
        self.output.close()
        if status != self.expected:
            raise ScenarioFailed(f"`{self.line}` exited {status}, not {self.expected}:\n{text[-2000:]}")


def reset(lab: Lab) -> None:
    """Leave the lab daemon with the base image only: no other image, container or volume."""
    client = lab.client()
    try:
        for container in client.containers.list(all=True):
            container.remove(force=True)
        for image in client.images.list():
            names = [tag for tag in image.tags if tag != lab.base_image]
            # An image known by the base image's name keeps it; any other image goes with its names.
            for name in names if lab.base_image in image.tags else names or [image.id]:
                with contextlib.suppress(NotFound):  # it went with an image removed before it
                    client.images.remove(name, force=True)
        for volume in client.volumes.list():
            volume.remove(force=True)
    finally:
        client.close()


def store_path(data_dir: Path) -> Path:
    return data_dir / "archviz.sqlite3"


def count_rows(data_dir: Path, kind: str | None = None) -> int:
    """How many observations the dashboard has stored (of one kind), read without Django."""
    with sqlite3.connect(f"file:{store_path(data_dir)}?mode=ro", uri=True, timeout=20) as db:
        if kind is None:
            return db.execute("SELECT count(*) FROM archviz_observation").fetchone()[0]
        return db.execute("SELECT count(*) FROM archviz_observation WHERE kind = ?", (kind,)).fetchone()[0]


def wait_until(ready: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.1)


def wait_store_quiet(data_dir: Path) -> None:
    """Wait until no new observation has been stored for QUIET_SECONDS."""
    count, since = count_rows(data_dir), time.monotonic()
    while time.monotonic() - since < QUIET_SECONDS:
        time.sleep(0.2)
        now = count_rows(data_dir)
        if now != count:
            count, since = now, time.monotonic()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def record(scenario: Scenario, lab: Lab, drain: Drain) -> int:
    """Record one scenario into OUT (steps 2 to 5 of the module docstring); returns how many rows it wrote."""
    data_dir = Path(tempfile.mkdtemp(prefix="avscn-data-"))
    tap = Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHVIZ_", "DATABASE_URL", "REDIS_URL"))}
    env.update(ARCHVIZ_DATA_DIR=str(data_dir), DOCKER_HOST=lab.docker_host, ARCHVIZ_TAP_SOCKET=f"unix://{tap}",
               ARCHVIZ_REGISTRY_TOKEN=lab.webhook_token, DJANGO_SETTINGS_MODULE="dashboard.settings",
               PYTHONUNBUFFERED="1")
    try:
        started_ns = play(scenario, lab, drain, env, tap)
        dump = subprocess.run([sys.executable, "-c", DUMP], cwd=ROOT, env=env, check=True, capture_output=True,
                              text=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        tap.unlink(missing_ok=True)

    rows = [row for row in map(json.loads, dump.stdout.splitlines()) if row["kind"] not in WATCHER_LINK_KINDS]
    early = [row["kind"] for row in rows if int(row["time_ns"]) < started_ns]
    if early:
        print(f"  dropped {len(early)} rows from before the first command: {early}")
    stable = {str(lab.root): STABLE_LAB, str(tap): STABLE_TAP, lab.registry_address: REG,
              lab.auth_registry_address: AUTH_REG}
    lines = []
    for number, row in enumerate((row for row in rows if int(row["time_ns"]) >= started_ns), start=1):
        line = json.dumps(row | {"id": number})
        for temporary, fixed in stable.items():
            line = line.replace(temporary, fixed)
        lines.append(line)
    (OUT / f"{scenario.name}.jsonl").write_text("".join(f"{line}\n" for line in lines))
    (OUT / f"{scenario.name}.txt").write_text(describe(scenario))
    return len(lines)


def play(scenario: Scenario, lab: Lab, drain: Drain, env: dict[str, str], tap: Path) -> int:
    """Prepare the lab, run the scenario through a fresh serve, and stop it; returns when its commands began."""
    work = Path(tempfile.mkdtemp(prefix=f"avscn-{scenario.name}-"))
    config = Path(tempfile.mkdtemp(prefix="avscn-config-"))
    data_dir = Path(env["ARCHVIZ_DATA_DIR"])
    serve = None
    try:
        reset(lab)
        for name, text in scenario.files.items():
            (work / name).write_text(text.replace(REG, lab.registry_address))
        run_lines(scenario.setup, client_env(lab.docker_host, config), work, lab.registry_address)
        drain.wait_quiet()
        drain.stop()

        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        with (data_dir / "serve.log").open("wb") as log:
            serve = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(drain.port)], cwd=ROOT,
                                     env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def ready() -> bool:
            if serve.poll() is not None:
                raise ScenarioFailed(f"serve exited: {(data_dir / 'serve.log').read_text(errors='replace')}")
            return (answers(f"http://127.0.0.1:{drain.port}/api/health") and tap.exists()
                    and count_rows(data_dir, "watcher-connected") > 0)

        wait_until(ready, "serve, its tap and its watcher starting")
        started_ns = time.time_ns()
        run_lines(scenario.commands, client_env(f"unix://{tap}", config), work, lab.registry_address)
        wait_store_quiet(data_dir)
        return started_ns
    finally:
        if serve is not None:
            stop(serve)
        if drain.server is None:
            drain.start()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(config, ignore_errors=True)


def describe(scenario: Scenario) -> str:
    """NAME.txt: what the scenario is (as comments), then its commands as typed, one per line."""
    text = f"# {scenario.name}: {scenario.about}.\n"
    if scenario.files:
        text += "# Files in the working folder:\n"
        for name, content in scenario.files.items():
            text += f"#   {name}:\n" + "".join(f"#     {line}\n" for line in content.splitlines())
    if scenario.setup:
        text += "# Setup, straight to the lab daemon (not recorded):\n"
        text += "".join(f"#   {line}\n" for line in scenario.setup)
    text += "# Recorded, through the API tap:\n"
    return text + "".join(f"{line}\n" for line in scenario.commands)


def main() -> None:
    known = {scenario.name: scenario for scenario in SCENARIOS}
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Scenarios: " + ", ".join(known) + ". Writes tests/data/scenarios/NAME.jsonl and NAME.txt.")
    parser.add_argument("names", nargs="*", metavar="NAME", help="scenarios to record (default: all)")
    names = parser.parse_args().names or list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")

    OUT.mkdir(parents=True, exist_ok=True)
    drain = Drain(free_port())
    lab = Lab(Path(tempfile.mkdtemp(prefix="avlab-", dir="/tmp")), registry_port=free_port(),
              auth_registry_port=free_port(), webhooks=(f"http://127.0.0.1:{drain.port}/hooks/registry/",))
    failed = []
    began = time.monotonic()
    try:
        drain.start()
        lab.up(say=print)
        for name in names:
            print(f"{name}:")
            try:
                print(f"  {record(known[name], lab, drain)} rows")
            except ScenarioFailed as error:
                print(f"  FAILED: {error}")
                failed.append(name)
    finally:
        lab.down(say=print)
        drain.stop()
    print(f"recorded {len(names) - len(failed)} of {len(names)} scenarios in {time.monotonic() - began:.0f} s")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
