"""Run a lesson against the lab through the API tap, so a teacher can show it without a terminal of their own.

1. Where: the tap takes the lesson's commands (DOCKER_HOST); the daemon behind it takes the setup; both must answer,
   else LessonFailed says which does not and how to start it.
2. Prepare: a fresh working folder holding the lesson's files; for a remote lesson, throwaway certificates and the
   tap on TCP with TLS (archviz.lessons.remote). Then the setup, straight to the daemon, never through the tap (so it
   is not drawn as part of the lesson), each thing said as setup.
3. Each command: a visible countdown, the command echoed as typed, its output as it comes, how long it took, and
   what happened in it, step by step. A command that fails stops the lesson, saying which.
4. The time range the lesson's commands took: where the dashboard draws it, and how to keep it as a session.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import docker
from docker.errors import APIError, DockerException, NotFound

from archviz.daemons import open_client
from archviz.lessons.lesson import Command, Lesson, Setup, placeholders
from archviz.lessons.remote import RemoteError, free_port, throwaway_certificates, tls_tap

COMMAND_SECONDS = 120.0
CONNECT_SECONDS = 2.0
# What the daemon does as a command's client exits (the end of a stream, a removal) is timed just after it.
MARGIN_SECONDS = 0.25
# The docker CLI's own ways of choosing a daemon: the lesson's commands use the tap, and only it.
CONNECTION_VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS")
COMPONENTS = {"user": "User", "client": "Client", "daemon": "Daemon", "runtime": "Runtime", "registry": "Registry"}

Write = Callable[[str], None]


class LessonFailed(Exception):
    """The lesson cannot go on; the message says what went wrong and what to do."""


@dataclass(frozen=True)
class Where:
    tap: str  # the DOCKER_HOST of the lesson's commands: the API tap
    daemon: str  # the daemon behind the tap, where the setup goes
    registry: str = ""  # HOST:PORT of the lab registry; "" asks the daemon for its Docker Hub mirror
    remote_port: int = 0  # where a remote lesson's TLS tap listens; 0 for any free port


@dataclass(frozen=True)
class Pace:
    countdown: int = 3  # seconds counted down before each command
    keystroke: float = 0.04  # seconds per character as a command is echoed


@dataclass(frozen=True)
class Ran:
    """What `run` reports: the time range of the lesson's commands (the dashboard draws them there)."""

    since_ns: int
    until_ns: int
    commands: int
    own_seconds: float  # the typed commands' own time, from start to exit, added up


def tap_address(option: str, setting: str, lab_dir: Path) -> str:
    """The tap: --tap, else ARCHVIZ_TAP_SOCKET, else the lab's (where ./scripts/serve runs it)."""
    return option or setting or f"unix://{lab_dir / 'tap.sock'}"


def daemon_address(option: str, environ: Mapping[str, str], tap: str, lab_dir: Path) -> str:
    """The daemon for the setup: --daemon, else DOCKER_HOST unless that is the tap itself, else the lab's."""
    exported = environ.get("DOCKER_HOST", "").strip()
    if option:
        return option
    if exported and exported != tap:
        return exported
    return f"unix://{lab_dir / 'docker.sock'}"


def registry_from_mirrors(mirrors: list[str]) -> str:
    """HOST:PORT of the first Docker Hub mirror a daemon names (the lab registry is the lab daemon's); or ""."""
    return next((urlsplit(mirror).netloc for mirror in mirrors if urlsplit(mirror).netloc), "")


def tap_unreachable_reason(address: str) -> str | None:
    """None when something listens at the tap's address; else why not. Only connects: the tap records nothing."""
    try:
        if address.startswith("unix://"):
            path = address.removeprefix("unix://")
            if not Path(path).exists():
                return "no socket there"
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(CONNECT_SECONDS)
                probe.connect(path)
        elif address.startswith("tcp://"):
            host, _, port = address.removeprefix("tcp://").rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS):
                pass
        else:
            return "it is neither unix:///PATH nor tcp://HOST:PORT"
    except (OSError, ValueError) as error:
        return getattr(error, "strerror", None) or str(error)
    return None


def countdown_text(seconds: int) -> list[str]:
    """What is written, a second apart, before a command: `next in 3… 2… 1…`."""
    return [f"next in {seconds}…", *(f" {left}…" for left in range(seconds - 1, 0, -1))] if seconds else []


def steps_text(command: Command) -> list[str]:
    """What happened in a command, one line per step, numbered."""
    return [f"  {number}. {COMPONENTS[step.component]}: {step.action} → {step.result}"
            for number, step in enumerate(command.steps, 1)]


def exported(words: list[str]) -> dict[str, str]:
    """The variables an `export NAME=VALUE …` line sets."""
    return dict(word.split("=", 1) for word in words[1:])


def run(lesson: Lesson, where: Where, pace: Pace, write: Write) -> Ran:
    """Run the lesson as the module docstring says; LessonFailed when it cannot go on."""
    say = _sayer(write)
    _check(where)
    say(f"Lesson {lesson.name}: {lesson.title}")
    say(lesson.about)
    say(f"Its commands go through the API tap at {where.tap}; its setup goes straight to the daemon at "
        f"{where.daemon}.")
    with tempfile.TemporaryDirectory(prefix=f"avlesson-{lesson.name}-") as folder, \
            _prepared(lesson, where, Path(folder), say) as values:
        return _type(lesson, where, pace, write, Path(folder), values)


def _sayer(write: Write) -> Write:
    return lambda line: write(f"{line}\n")


def _check(where: Where) -> None:
    reason = tap_unreachable_reason(where.tap)
    if reason is not None:
        raise LessonFailed(f"No API tap answers at {where.tap} ({reason}). Start the lab and the dashboard with "
                           "./scripts/serve (it runs the tap there), or name a running tap with --tap or "
                           "ARCHVIZ_TAP_SOCKET.")
    reason = _daemon_unreachable_reason(where.daemon)
    if reason is not None:
        raise LessonFailed(f"No Docker daemon answers at {where.daemon} ({reason}), where the lesson's setup goes. "
                           "Start the lab with ./scripts/serve (or python manage.py lab up), or name the daemon "
                           "behind the tap with --daemon.")


def _daemon_unreachable_reason(address: str) -> str | None:
    try:
        with _client(address) as client:
            client.ping()
    except DockerException as error:
        return str(error).splitlines()[0][:200]
    return None


@contextmanager
def _client(address: str) -> Iterator[docker.DockerClient]:
    client = open_client(address, timeout=60)
    try:
        yield client
    finally:
        client.close()


@contextmanager
def _prepared(lesson: Lesson, where: Where, folder: Path, say: Write) -> Iterator[dict[str, str]]:
    """The lesson's folder, placeholders' values, remote tap and setup, ready; the remote tap stops after."""
    values = {"registry": _registry(lesson, where)}
    work = folder / "work"
    work.mkdir()
    for name, content in lesson.files.items():
        (work / name).write_text(content)
    if lesson.files:
        say(f"setup: a fresh folder, {work}, holding {', '.join(lesson.files)}:")
        for name, content in lesson.files.items():
            say(f"    {name}:")
            for line in content.splitlines():
                say(f"      {line}")
    if not lesson.remote:
        _setup(lesson.setup, where.daemon, values, say)
        yield values
        return
    certificates = throwaway_certificates(folder / "certs")
    say(f"setup: throwaway TLS certificates in {certificates.folder}: a CA, the daemon's and the client's")
    try:
        with tls_tap(where.daemon, certificates, where.remote_port or free_port()) as remote:
            say(f"setup: the API tap also listens on tcp://{remote} with TLS, in front of the same daemon, as "
                "dockerd --tlsverify --host tcp://0.0.0.0:2376 would on another machine")
            values |= {"remote": remote, "certs": str(certificates.folder)}
            _setup(lesson.setup, where.daemon, values, say)
            yield values
    except RemoteError as error:
        raise LessonFailed(str(error)) from None


def _registry(lesson: Lesson, where: Where) -> str:
    """The lab registry's address, found only when the lesson names it."""
    uses = {name for command in lesson.commands for name in placeholders(command.typed)}
    uses |= {name for image in lesson.setup.absent_images for name in placeholders(image)}
    if "registry" not in uses or where.registry:
        return where.registry
    with _client(where.daemon) as client:
        found = registry_from_mirrors(client.info().get("RegistryConfig", {}).get("Mirrors") or [])
    if not found:
        raise LessonFailed(f"lesson {lesson.name} pushes to the lab registry, and the daemon at {where.daemon} "
                           "names no registry mirror: run it against the lab, or give --registry HOST:PORT")
    return found


def _setup(setup: Setup, daemon: str, values: dict[str, str], say: Write) -> None:
    """Remove what the lesson needs absent, straight to the daemon; say each as setup."""
    with _client(daemon) as client:
        try:
            for name in setup.absent_containers:
                with suppress(NotFound):
                    client.containers.get(name).remove(force=True)
                    say(f"setup: removed the container {name}")
            for image in (name.format_map(values) for name in setup.absent_images):
                _remove_image(client, image, say)
        except APIError as error:
            raise LessonFailed(f"the setup could not be done on {daemon}: {error.explanation or error}") from None


def _remove_image(client: docker.DockerClient, image: str, say: Write) -> None:
    try:
        found = client.images.get(image)
    except NotFound:
        say(f"setup: the daemon has no image {image}, as the lesson needs")
        return
    for container in client.containers.list(all=True, filters={"ancestor": found.id}):
        container.remove(force=True)
        say(f"setup: removed the container {container.name}, made from {image}")
    client.images.remove(found.id, force=True)
    say(f"setup: removed the image {image} from the daemon, so the lesson fetches it again")


def _type(lesson: Lesson, where: Where, pace: Pace, write: Write, folder: Path, values: dict[str, str]) -> Ran:
    say = _sayer(write)
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_VARIABLES} | {"DOCKER_HOST": where.tap}
    since_ns = 0
    own = 0.0
    for command in lesson.commands:
        typed = command.typed.format_map(values)
        say("")
        for part in countdown_text(pace.countdown):
            write(part)
            time.sleep(1)
        if pace.countdown:
            say("")
        _echo(typed, pace, write)
        words = shlex.split(typed)
        if command.sets_variables:
            env |= exported(words)
            continue
        since_ns = since_ns or time.time_ns()
        took = _execute(typed, words, env, folder / "work", write)
        own += took
        say(f"(took {took:.2f} s)")
        say("What happened:")
        for line in steps_text(command):
            say(line)
    until_ns = time.time_ns() + int(MARGIN_SECONDS * 1e9)
    return Ran(since_ns, until_ns, len(lesson.docker_commands), own)


def _echo(typed: str, pace: Pace, write: Write) -> None:
    write("$ ")
    if not pace.keystroke:
        write(f"{typed}\n")
        return
    for character in typed:
        write(character)
        time.sleep(pace.keystroke)
    write("\n")


def _execute(typed: str, words: list[str], env: dict[str, str], cwd: Path, write: Write) -> float:
    """Run one docker command, its output (both streams, in order) written as it comes; its own time."""
    began = time.monotonic()
    try:
        process = subprocess.Popen(words, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
    except FileNotFoundError:
        raise LessonFailed("the docker CLI is not installed: apt-get install docker.io (./scripts/serve does)") \
            from None
    watchdog = threading.Timer(COMMAND_SECONDS, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        for line in iter(process.stdout.readline, b""):
            write(line.decode(errors="replace"))
        status = process.wait()
    finally:
        watchdog.cancel()
        if process.stdout is not None:
            process.stdout.close()
    took = time.monotonic() - began
    if status != 0:
        why = f"was stopped after {COMMAND_SECONDS:.0f} s" if took >= COMMAND_SECONDS else f"exited {status}"
        raise LessonFailed(f"`{typed}` {why}: the lesson stops here (its output is above)")
    return took
