"""Commands, not endpoints: what a person typed, recognised from the requests one client process made.

The docker CLI's command line is never read (it can hold secrets); the requests say enough. `COMMANDS` is an
ordered table: the first row whose request the client made names the command, from that request's path and
query (and from what the daemon said of it: the image a create used, the command an exec ran). A client that
made no request the table knows is named by its program.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote

from archviz.sequence.names import familiar, short_id
from archviz.sequence.spans import Span


@dataclass(slots=True)
class Command:
    """One box: the spans one client made for one typed command, and what its effects told about it."""

    key: str
    interaction: str
    program: str
    spans: list[Span] = field(default_factory=list)
    image: str = ""  # the image its container was created from (the daemon's create event says)
    missing: str = ""  # the image a create found missing: the pull that follows is in an `alt` frame
    exec_command: str = ""  # what an exec ran (the daemon's exec_create event says; secrets masked there)
    run_command: str = ""  # what its container runs (its create request's body says; secrets masked by the tap)
    closed: bool = False  # the client has told the user how it went
    typed: bool = False  # a person typed it (seen by the tap); a dashboard action names itself
    client: str = ""  # the participant it was typed into
    titled_from: tuple[object, ...] = ()  # what its title was last worked out from
    last_ns: int = 0

    @property
    def open_spans(self) -> list[Span]:
        return [span for span in self.spans if span.open]


def _part(span: Span, index: int = 2) -> str:
    """A path's part (`/containers/ID/stop`: part 2 is ID), unquoted, an id shortened as Docker shows it."""
    parts = span.path.split("/")
    value = unquote(parts[index]) if len(parts) > index else ""
    return short_id(value) if len(value) == 64 else value


def _flag(span: Span, name: str, flag: str) -> str:
    value = span.query.get(name, "")
    return f" {flag} {value}" if value and value != "…" else ""


def _true(span: Span, name: str) -> bool:
    return span.query.get(name, "") in ("1", "true", "True")


def _run(command: Command, span: Span) -> str:
    started = attached = removed = False
    for other in command.spans:
        path = other.path
        started = started or (path.endswith("/start") and path.startswith("/containers/"))
        attached = attached or path.endswith("/attach")
        removed = removed or (path.endswith("/wait") and other.query.get("condition") == "removed")
    verb = "run" if started else "create"
    flags = (" -d" if started and not attached else "") + (" --rm" if removed else "") + _flag(span, "name", "--name")
    image = command.image or command.missing
    return " ".join(filter(None, (f"docker {verb}{flags}", image, command.run_command if image else "")))


def _exec(command: Command, span: Span) -> str:
    container = next((_part(s) for s in command.spans if s.path.startswith("/containers/")), "")
    return " ".join(filter(None, ("docker exec", container, command.exec_command)))


def _image(span: Span, suffix: str = "") -> str:
    """The image a path names (`/images/NAME/push` with suffix `/push` -> NAME)."""
    return unquote(span.path.removeprefix("/images/").removesuffix(suffix))


def _tag(command: Command, span: Span) -> str:
    name = _image(span, "/tag")
    tag = span.query.get("tag", "")
    return f"docker tag {name} {familiar(span.query.get('repo', ''))}" + (f":{tag}" if tag else "")


def _pull(command: Command, span: Span) -> str:
    if span.query.get("fromSrc"):
        return "docker import"
    tag = span.query.get("tag", "")
    # The CLI asks for docker.io/library/nginx and tag latest when `docker pull nginx` is typed.
    return f"docker pull {familiar(span.query.get('fromImage', ''))}" + (f":{tag}" if tag not in ("", "latest") else "")


def _push(command: Command, span: Span) -> str:
    tag = span.query.get("tag", "")
    return f"docker push {_image(span, '/push')}" + (f":{tag}" if tag else "")


Title = Callable[[Command, Span], str]


def _says(text: str) -> Title:
    """A command named by its request alone: `docker images`."""
    return lambda command, span: text


def _on_container(verb: str) -> Title:
    """`docker VERB CONTAINER`, the container being the one the path names."""
    return lambda command, span: f"docker {verb} {_part(span)}"


def _objects(noun: str) -> Title:
    """`docker network create`, `docker volume rm v1`, … by method and path."""
    def title(command: Command, span: Span) -> str:
        name = _part(span)
        verb = {"GET": "inspect" if name else "ls", "DELETE": "rm"}.get(span.method, "create")
        if span.method == "POST" and name and name not in ("create", "prune"):
            verb = span.path.rsplit("/", 1)[-1]
        if name == "prune":
            verb = "prune"
        return " ".join(filter(None, (f"docker {noun} {verb}", name if name not in ("create", "prune") else "")))
    return title


# (method, path test, title): the first row any of a command's requests matches names it. Tests on the path are
# (prefix, suffix); "" matches anything.
COMMANDS: tuple[tuple[str, tuple[str, str], Title], ...] = (
    ("POST", ("/build", ""), lambda c, s: f"docker build{_flag(s, 't', '-t')} ."),
    ("POST", ("/containers/create", ""), _run),
    ("POST", ("/exec/", "/start"), _exec),
    ("POST", ("/containers/", "/exec"), _exec),
    ("POST", ("/containers/", "/stop"), lambda c, s: f"docker stop{_flag(s, 't', '-t')} {_part(s)}"),
    ("POST", ("/containers/", "/kill"), _on_container("kill")),
    ("POST", ("/containers/", "/restart"), _on_container("restart")),
    ("POST", ("/containers/", "/start"), _on_container("start")),
    ("POST", ("/containers/", "/pause"), _on_container("pause")),
    ("POST", ("/containers/", "/unpause"), _on_container("unpause")),
    ("POST", ("/containers/", "/rename"), lambda c, s: f"docker rename {_part(s)} {s.query.get('name', '')}"),
    ("POST", ("/containers/", "/update"), _on_container("update")),
    ("POST", ("/containers/prune", ""), _says("docker container prune")),
    ("DELETE", ("/containers/", ""), lambda c, s: f"docker rm{' -f' if _true(s, 'force') else ''} {_part(s)}"),
    ("POST", ("/commit", ""), lambda c, s: " ".join(filter(None, (
        "docker commit", s.query.get("container", ""), s.query.get("repo", "") + (
            f":{s.query['tag']}" if s.query.get("tag") else ""))))),
    ("POST", ("/images/", "/tag"), _tag),
    ("POST", ("/images/", "/push"), _push),
    ("POST", ("/images/create", ""), _pull),
    ("POST", ("/images/load", ""), _says("docker load")),
    ("POST", ("/images/prune", ""), _says("docker image prune")),
    ("DELETE", ("/images/", ""), lambda c, s: f"docker rmi {_image(s)}"),
    ("GET", ("/images/get", ""), lambda c, s: f"docker save {s.query.get('names', '')}".strip()),
    ("GET", ("/images/", "/get"), lambda c, s: f"docker save {_image(s, '/get')}"),
    ("GET", ("/containers/", "/logs"), lambda c, s: f"docker logs{' -f' if _true(s, 'follow') else ''} {_part(s)}"),
    ("PUT", ("/containers/", "/archive"), lambda c, s: f"docker cp … {_part(s)}:{s.query.get('path', '')}"),
    ("GET", ("/containers/", "/archive"), lambda c, s: f"docker cp {_part(s)}:{s.query.get('path', '')} …"),
    ("HEAD", ("/containers/", "/archive"), lambda c, s: f"docker cp {_part(s)}:{s.query.get('path', '')} …"),
    ("GET", ("/containers/", "/export"), _on_container("export")),
    ("GET", ("/containers/", "/top"), _on_container("top")),
    ("GET", ("/containers/", "/stats"), _on_container("stats")),
    ("POST", ("/containers/", "/attach"), _on_container("attach")),
    ("POST", ("/containers/", "/wait"), _on_container("wait")),
    ("GET", ("/events", ""), _says("docker events")),
    ("POST", ("/networks/", ""), _objects("network")),
    ("DELETE", ("/networks/", ""), _objects("network")),
    ("POST", ("/volumes/", ""), _objects("volume")),
    ("DELETE", ("/volumes/", ""), _objects("volume")),
    ("POST", ("/auth", ""), _says("docker login")),
    ("POST", ("/build/prune", ""), _says("docker builder prune")),
    ("GET", ("/containers/json", ""), lambda c, s: f"docker ps{' -a' if _true(s, 'all') else ''}"),
    ("GET", ("/images/json", ""), _says("docker images")),
    ("GET", ("/containers/", "/json"), _on_container("inspect")),
    ("GET", ("/images/", "/json"), lambda c, s: f"docker image inspect {_image(s, '/json')}"),
    ("GET", ("/images/", "/history"), lambda c, s: f"docker history {_image(s, '/history')}"),
    ("GET", ("/networks", ""), _objects("network")),
    ("GET", ("/volumes", ""), _objects("volume")),
    ("GET", ("/system/df", ""), _says("docker system df")),
    ("GET", ("/info", ""), _says("docker info")),
    ("GET", ("/version", ""), _says("docker version")),
)


@lru_cache(maxsize=4096)
def _row_of(method: str, path: str) -> int:
    """The first row of COMMANDS a request matches (len(COMMANDS) for none)."""
    for index, (row_method, (prefix, suffix), _) in enumerate(COMMANDS):
        if method == row_method and path.startswith(prefix) and path.endswith(suffix):
            return index
    return len(COMMANDS)


def title(command: Command) -> str:
    """The command one client typed, as well as its requests tell."""
    rows = [_row_of(s.method, s.path) for s in command.spans]
    row = min(rows, default=len(COMMANDS))
    if row == len(COMMANDS):
        return command.program
    name = COMMANDS[row][2]
    said = list(dict.fromkeys(" ".join(name(command, s).split())
                              for s, of in zip(command.spans, rows, strict=True) if of == row))
    # One command on several objects (`docker rm -f web1 web2`) makes one request per object, all at once: the
    # order they arrive in says nothing of the order they were typed in, so they are named in sorted order.
    verb = said[0].rsplit(" ", 1)[0]
    if len(said) > 1 and all(" " in one and one.rsplit(" ", 1)[0] == verb for one in said):
        return " ".join([verb, *sorted(one.rsplit(" ", 1)[1] for one in said)])
    return said[0]


# Answers after which the client always asks more: a ping, a create (a start or a pull follows), an exec's
# parts (its exit code is asked for last), an attach (a wait ends a run), a look at a path before a copy.
_CONTINUES: tuple[tuple[str, str, str], ...] = (
    ("HEAD", "/_ping", ""), ("GET", "/_ping", ""), ("POST", "/containers/create", ""),
    ("POST", "/containers/", "/exec"), ("POST", "/exec/", "/start"), ("POST", "/containers/", "/attach"),
    ("HEAD", "/containers/", "/archive"), ("POST", "/exec/", "/resize"), ("POST", "/containers/", "/resize"),
)


def finishes(command: Command, span: Span) -> bool:
    """Whether the answer to `span` ends the command: nothing of it is still open, and a client never asks
    more after such an answer (a pull that a run needed is followed by the create it was for)."""
    if not span.status:
        return False  # no answer came: the client (or the daemon) went away, and what the user saw is unknown
    if command.open_spans or (span.status >= 400 and span.path != "/containers/create"):
        return not command.open_spans
    if _continues(span.method, span.path):
        return False
    return not (span.path == "/images/create" and command.missing)


@lru_cache(maxsize=4096)
def _continues(method: str, path: str) -> bool:
    """Whether the client always asks more after an answer to this request (a row of _CONTINUES)."""
    return any(method == m and path.startswith(p) and path.endswith(s) for m, p, s in _CONTINUES)


def outcome(span: Span) -> str:
    """What the client tells the user at the end."""
    if span.status >= 400 or span.error:
        return f"Error response from daemon: {span.error}" if span.error else f"error {span.status}"
    if span.exit_code is not None:
        return f"exit {span.exit_code}"
    return "prints the result, exit 0"

