"""A lesson file, read and checked: `parse` is pure and refuses a bad file with a sentence naming the problem.

A lesson is `files/NAME.toml` (NAME: lower-case letters, digits and dashes; it also names the session recorded
from it):

    title = "Pull an image"                            # what the lesson shows, for `lesson list`
    about = "One or two sentences for the class."
    parties = ["user", "client", "daemon", "registry"] # the lanes its diagram shows (roles, each once)
    remote = false                                     # true: the tap listens on TCP with TLS ({remote}, {certs})

    [setup]                                            # done straight to the daemon first, and said as setup
    absent_images = ["nginx"]                          # removed, with their containers, so a pull really pulls
    absent_containers = ["web1"]

    [files]                                            # written into a fresh folder, where the commands run
    "Dockerfile" = "FROM alpine:3.18\\n"

    [[commands]]
    typed = "docker pull nginx"                        # exactly as typed; `export NAME=VALUE …` sets variables
    [[commands.steps]]                                 # what happens, in order: one table per process step
    component = "daemon"                               # one of the parties
    action = "asks the registry for nginx's manifest"
    result = "the list of layers the image is made of"

In typed lines and in `absent_images`, `{registry}` is the lab registry's address (HOST:PORT); with `remote`,
`{remote}` is where the tap listens with TLS (HOST:PORT) and `{certs}` the folder of the client's certificates.
"""

from __future__ import annotations

import re
import shlex
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archviz.sequence.model import CLIENT, DAEMON, ROLES, USER

FILES = Path(__file__).resolve().parent / "files"
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")
PLACEHOLDERS = frozenset({"registry"})
REMOTE_PLACEHOLDERS = frozenset({"remote", "certs"})
REQUIRED_PARTIES = (USER, CLIENT, DAEMON)
TEXT_LIMIT = 400


class LessonError(ValueError):
    """A lesson file archviz cannot use; the message names the lesson, where in it, and what is wrong."""


@dataclass(frozen=True)
class Step:
    component: str  # a role: user, client, daemon, runtime, registry
    action: str
    result: str


@dataclass(frozen=True)
class Command:
    typed: str
    steps: tuple[Step, ...] = ()

    @property
    def sets_variables(self) -> bool:
        """`export NAME=VALUE …`: it changes the environment of the commands after it and reaches no daemon."""
        return self.typed.startswith("export ")


@dataclass(frozen=True)
class Setup:
    absent_images: tuple[str, ...] = ()
    absent_containers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    about: str
    parties: tuple[str, ...]
    commands: tuple[Command, ...]
    setup: Setup = Setup()
    files: dict[str, str] = field(default_factory=dict)
    remote: bool = False

    @property
    def docker_commands(self) -> tuple[Command, ...]:
        """The commands that reach the daemon: one box each in the diagram."""
        return tuple(command for command in self.commands if not command.sets_variables)


def parse(name: str, text: str) -> Lesson:
    """The lesson called `name` from the text of its file; LessonError when anything in it is wrong."""
    if not NAME.fullmatch(name):
        raise LessonError(f"{name[:80]!r} is not a lesson name: use lower-case letters, digits and dashes, "
                          "e.g. pull-nginx")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LessonError(f"lesson {name}: the file is not TOML: {error}") from None
    try:
        return _lesson(name, document)
    except LessonError as error:
        raise LessonError(f"lesson {name}: {error}") from None


def catalogue(folder: Path = FILES) -> list[Lesson]:
    """Every lesson in `folder`, by name."""
    return [parse(path.stem, path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.toml"))]


def find(name: str, folder: Path = FILES) -> Lesson:
    path = folder / f"{name}.toml"
    if not NAME.fullmatch(name) or not path.is_file():
        known = ", ".join(path.stem for path in sorted(folder.glob("*.toml")))
        raise LessonError(f"there is no lesson called {name[:80]!r}: the lessons are {known}")
    return parse(name, path.read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    """The `{name}` placeholders a text uses (`{{` and `}}` are braces)."""
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as error:
        raise LessonError(f"{text!r} has a stray brace ({error}): write {{{{ or }}}} for a brace") from None


# Checking, part by part: each function raises LessonError saying where the problem is.


def _lesson(name: str, document: dict[str, Any]) -> Lesson:
    _keys(document, "the file", required={"title", "about", "parties", "commands"},
          optional={"remote", "setup", "files"})
    remote = document.get("remote", False)
    if not isinstance(remote, bool):
        raise LessonError("remote must be true or false")
    parties = _parties(document["parties"])
    allowed = PLACEHOLDERS | (REMOTE_PLACEHOLDERS if remote else set())
    commands = document["commands"]
    if not isinstance(commands, list) or not commands:
        raise LessonError("commands must be a list of [[commands]] tables, at least one")
    checked = tuple(_command(f"commands[{index}]", command, parties, allowed)
                    for index, command in enumerate(commands, 1))
    if not any(not command.sets_variables for command in checked):
        raise LessonError("no command reaches the daemon: a lesson types at least one docker command")
    said = {step.component for command in checked for step in command.steps}
    silent = [party for party in parties if party not in said]
    if silent:
        raise LessonError(f"the parties {', '.join(silent)} take part in no step: give them a step or drop them "
                          "from parties")
    return Lesson(name=name, title=_text(document, "title", "title"), about=_text(document, "about", "about"),
                  parties=parties, commands=checked, setup=_setup(document.get("setup", {}), allowed),
                  files=_files(document.get("files", {})), remote=remote)


def _keys(table: object, where: str, required: set[str], optional: set[str] | None = None) -> None:
    optional = optional or set()
    if not isinstance(table, dict):
        raise LessonError(f"{where} must be a table")
    missing = sorted(required - set(table))
    if missing:
        raise LessonError(f"{where} lacks {', '.join(missing)}")
    unknown = sorted(set(table) - required - optional)
    if unknown:
        raise LessonError(f"{where} has {', '.join(unknown)}, which a lesson does not have (it has "
                          f"{', '.join(sorted(required | optional))})")


def _text(table: dict[str, Any], key: str, where: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_LIMIT:
        raise LessonError(f"{where} must be a text of 1 to {TEXT_LIMIT} characters")
    return " ".join(value.split())


def _parties(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(party, str) for party in value):
        raise LessonError(f"parties must be a list of roles ({', '.join(ROLES)})")
    unknown = [party for party in value if party not in ROLES]
    if unknown:
        raise LessonError(f"parties: {', '.join(map(repr, unknown))} is not a party; the parties are "
                          f"{', '.join(ROLES)}")
    if len(set(value)) != len(value):
        raise LessonError("parties names a party twice")
    missing = [party for party in REQUIRED_PARTIES if party not in value]
    if missing:
        raise LessonError(f"parties lacks {', '.join(missing)}: every command has a user, a client and a daemon")
    return tuple(value)


def _command(where: str, table: object, parties: tuple[str, ...], allowed: set[str]) -> Command:
    _keys(table, where, required={"typed"}, optional={"steps"})
    assert isinstance(table, dict)
    typed = table["typed"]
    if not isinstance(typed, str) or not typed.strip() or "\n" in typed:
        raise LessonError(f"{where}: typed must be one line of text")
    _placeholders(f"{where}: typed", typed, allowed)
    try:
        words = shlex.split(typed)
    except ValueError as error:
        raise LessonError(f"{where}: typed {typed!r} cannot be read as a shell would ({error})") from None
    steps = table.get("steps", [])
    if not isinstance(steps, list):
        raise LessonError(f"{where}: steps must be a list of [[commands.steps]] tables")
    if words[0] == "export":
        bad = [word for word in words[1:] if not VARIABLE.fullmatch(word.partition("=")[0]) or "=" not in word]
        if len(words) == 1 or bad:
            raise LessonError(f"{where}: an export line sets NAME=VALUE words only, as in "
                              "export DOCKER_HOST=tcp://127.0.0.1:2376")
        if steps:
            raise LessonError(f"{where}: an export line reaches no daemon, so it has no steps")
        return Command(typed)
    if words[0] != "docker" or len(words) == 1:
        raise LessonError(f"{where}: typed {typed!r} is not a docker command (nor an export line)")
    if not steps:
        raise LessonError(f"{where}: {typed!r} has no steps: say what happens, one [[commands.steps]] per step")
    return Command(typed, tuple(_step(f"{where}.steps[{index}]", step, parties)
                                for index, step in enumerate(steps, 1)))


def _step(where: str, table: object, parties: tuple[str, ...]) -> Step:
    _keys(table, where, required={"component", "action", "result"})
    assert isinstance(table, dict)
    component = table["component"]
    if component not in parties:
        raise LessonError(f"{where}: component {str(component)[:40]!r} is not one of the lesson's parties "
                          f"({', '.join(parties)})")
    return Step(component, _text(table, "action", f"{where}: action"), _text(table, "result", f"{where}: result"))


def _setup(table: object, allowed: set[str]) -> Setup:
    _keys(table, "setup", required=set(), optional={"absent_images", "absent_containers"})
    assert isinstance(table, dict)
    lists = {}
    for key in ("absent_images", "absent_containers"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise LessonError(f"setup: {key} must be a list of names")
        for item in value:
            _placeholders(f"setup: {key}", item, allowed if key == "absent_images" else set())
        lists[key] = tuple(value)
    return Setup(**lists)


def _files(table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise LessonError("files must be a table of file name = contents")
    for file_name, content in table.items():
        if not FILE_NAME.fullmatch(file_name) or file_name in (".", ".."):
            raise LessonError(f"files: {file_name[:80]!r} is not a plain file name (no folders), as in Dockerfile")
        if not isinstance(content, str):
            raise LessonError(f"files: {file_name} must be text")
    return dict(table)


def _placeholders(where: str, text: str, allowed: set[str]) -> None:
    unknown = sorted(placeholders(text) - allowed)
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
        hint = " ({remote} and {certs} need remote = true)" if set(unknown) & REMOTE_PLACEHOLDERS else ""
        raise LessonError(f"{where} uses {', '.join(f'{{{name}}}' for name in unknown)}, which is not known "
                          f"here{hint}; known: {known}")
