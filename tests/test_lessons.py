"""The lessons as data, as a teacher meets them: every shipped lesson reads, says what it types and who takes part;
a lesson file with a mistake is refused with a sentence that names the lesson, the place and the problem; and
`manage.py lesson` explains every option and says how to start what it needs when nothing answers."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archviz.lessons.lesson import FILES, LessonError, catalogue, find, parse
from archviz.lessons.remote import throwaway_certificates
from archviz.lessons.runner import (
    countdown_text,
    daemon_address,
    exported,
    registry_from_mirrors,
    tap_address,
    tap_unreachable_reason,
)
from archviz.sequence.model import ROLES
from archviz.tap.tls import server_context

LESSONS = ("build", "images-vs-containers", "pull-nginx", "push", "remote-tls", "run-hello-world", "run-ubuntu")
LAB = Path("/tmp/archviz-lab")

GOOD = """
title = "Pull an image"
about = "The daemon fetches the layers."
parties = ["user", "client", "daemon", "registry"]

[setup]
absent_images = ["nginx"]

[[commands]]
typed = "docker pull nginx"

[[commands.steps]]
component = "user"
action = "types it"
result = "the client starts"

[[commands.steps]]
component = "client"
action = "asks the daemon"
result = "the daemon answers"

[[commands.steps]]
component = "daemon"
action = "asks the registry"
result = "the manifest"

[[commands.steps]]
component = "registry"
action = "sends the layers"
result = "they arrive"
"""


def test_every_shipped_lesson_reads_and_the_lessons_the_issue_asks_for_are_there() -> None:
    lessons = {lesson.name: lesson for lesson in catalogue()}
    assert tuple(lessons) == LESSONS
    assert [command.typed for command in lessons["pull-nginx"].commands] == ["docker pull nginx"]
    assert [command.typed for command in lessons["run-ubuntu"].commands] == ["docker run ubuntu echo hi"]
    assert [command.typed for command in lessons["run-hello-world"].commands] == ["docker run hello-world"]
    assert lessons["build"].files["Dockerfile"].startswith("FROM alpine:3.18\nCOPY ")
    assert "\nRUN " in lessons["build"].files["Dockerfile"] and "hello.sh" in lessons["build"].files
    assert any(c.typed.startswith("docker push {registry}/") for c in lessons["push"].commands)
    assert lessons["remote-tls"].remote and lessons["remote-tls"].commands[0].sets_variables


def test_the_pull_lesson_says_the_steps_of_the_real_exchange_party_by_party() -> None:
    pull = find("pull-nginx")
    assert [step.component for step in pull.commands[0].steps] == ["user", "client", "daemon", "registry", "daemon",
                                                                   "client"]
    assert pull.setup.absent_images == ("nginx",)


@pytest.mark.parametrize("name", LESSONS)
def test_each_lesson_names_real_parties_and_each_docker_command_has_steps(name: str) -> None:
    lesson = find(name)
    assert set(lesson.parties) <= set(ROLES) and {"user", "client", "daemon"} <= set(lesson.parties)
    assert lesson.docker_commands and all(command.steps for command in lesson.docker_commands)
    assert {step.component for c in lesson.commands for step in c.steps} == set(lesson.parties)


def lesson_text(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


BAD_LESSONS = [
    ("not TOML", "title = ", "lesson bad: the file is not TOML"),
    ("no title", lesson_text('title = "Pull an image"\n', ""), "the file lacks title"),
    ("an unknown key", lesson_text("[setup]", 'colour = "red"\n[setup]'), "the file has colour, which a lesson "
                                                                           "does not have"),
    ("a title that is not text", lesson_text('title = "Pull an image"', "title = 3"), "title must be a text"),
    ("an unknown party", lesson_text('"registry"]', '"registry", "kernel"]'), "'kernel' is not a party"),
    ("a party twice", lesson_text('"registry"]', '"registry", "client"]'), "parties names a party twice"),
    ("no daemon", lesson_text('"daemon", ', ""), "parties lacks daemon"),
    ("a party with no step", lesson_text('"registry"]', '"registry", "runtime"]'), "the parties runtime take part "
                                                                                   "in no step"),
    ("no commands", GOOD.split("[[commands]]")[0], "the file lacks commands"),
    ("a command that is not docker", lesson_text('typed = "docker pull nginx"', 'typed = "rm -rf /"'),
     "commands[1]: typed 'rm -rf /' is not a docker command"),
    ("a command on two lines", lesson_text('typed = "docker pull nginx"', 'typed = "docker pull\\nnginx"'),
     "commands[1]: typed must be one line"),
    ("an unclosed quote", lesson_text('typed = "docker pull nginx"', """typed = "docker run 'x" """),
     "cannot be read as a shell would"),
    ("a docker command with no steps", GOOD.split("[[commands.steps]]")[0], "'docker pull nginx' has no steps"),
    ("a step for no party of the lesson", lesson_text('component = "registry"', 'component = "runtime"'),
     "commands[1].steps[4]: component 'runtime' is not one of the lesson's parties"),
    ("a step with no result", lesson_text('result = "they arrive"\n', ""), "commands[1].steps[4] lacks result"),
    ("an unknown placeholder", lesson_text('typed = "docker pull nginx"', 'typed = "docker pull {hub}/nginx"'),
     "uses {hub}, which is not known here"),
    ("a remote placeholder without remote", lesson_text('typed = "docker pull nginx"',
                                                        'typed = "docker -H {remote} pull nginx"'),
     "({remote} and {certs} need remote = true)"),
    ("a stray brace", lesson_text('typed = "docker pull nginx"', 'typed = "docker pull {nginx"'), "stray brace"),
    ("an export that sets nothing", lesson_text('typed = "docker pull nginx"',
                                                'typed = "export"\n[[commands]]\ntyped = "docker pull nginx"'),
     "an export line sets NAME=VALUE words only"),
    ("an export with steps", lesson_text('typed = "docker pull nginx"',
                                         'typed = "export DOCKER_HOST=tcp://127.0.0.1:2376"'),
     "an export line reaches no daemon, so it has no steps"),
    ("a file in a folder", lesson_text("[setup]", '[files]\n"../etc/passwd" = "x"\n[setup]'),
     "'../etc/passwd' is not a plain file name"),
    ("a setup that is not a list", lesson_text('absent_images = ["nginx"]', 'absent_images = "nginx"'),
     "setup: absent_images must be a list of names"),
    ("remote that is not true or false", lesson_text("[setup]", 'remote = "yes"\n[setup]'),
     "remote must be true or false"),
]


@pytest.mark.parametrize(("text", "message"), [pytest.param(text, message, id=what)
                                               for what, text, message in BAD_LESSONS])
def test_a_bad_lesson_file_is_refused_with_a_sentence_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(LessonError) as refused:
        parse("bad", text)
    assert str(refused.value).startswith("lesson bad: ")
    assert message in str(refused.value)


def test_a_good_lesson_file_reads_whole() -> None:
    lesson = parse("good", GOOD)
    assert lesson.title == "Pull an image" and lesson.parties == ("user", "client", "daemon", "registry")
    assert [step.component for step in lesson.commands[0].steps] == ["user", "client", "daemon", "registry"]
    assert not lesson.remote and lesson.files == {}


def test_a_name_that_is_not_a_slug_or_not_a_lesson_is_refused_naming_the_lessons() -> None:
    with pytest.raises(LessonError, match="is not a lesson name"):
        parse("Pull Nginx", GOOD)
    with pytest.raises(LessonError, match="there is no lesson called 'pull-ngnix': the lessons are build, "):
        find("pull-ngnix")


def test_a_folder_of_lessons_is_read_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b-second.toml").write_text(GOOD)
    (tmp_path / "a-first.toml").write_text(GOOD)
    assert [lesson.name for lesson in catalogue(tmp_path)] == ["a-first", "b-second"]
    (tmp_path / "c-broken.toml").write_text("title = ")
    with pytest.raises(LessonError, match="lesson c-broken: the file is not TOML"):
        catalogue(tmp_path)


# Where the runner sends things


@pytest.mark.parametrize(("option", "setting", "expected"), [
    ("unix:///run/t.sock", "unix:///other.sock", "unix:///run/t.sock"),
    ("", "tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
    ("", "", f"unix://{LAB}/tap.sock"),
])
def test_the_commands_go_to_the_tap_named_else_the_setting_else_the_labs(option: str, setting: str,
                                                                         expected: str) -> None:
    assert tap_address(option, setting, LAB) == expected


@pytest.mark.parametrize(("option", "environ", "expected"), [
    ("unix:///d.sock", {"DOCKER_HOST": "unix:///e.sock"}, "unix:///d.sock"),
    ("", {"DOCKER_HOST": "unix:///e.sock"}, "unix:///e.sock"),
    ("", {"DOCKER_HOST": f"unix://{LAB}/tap.sock"}, f"unix://{LAB}/docker.sock"),  # the line serve printed
    ("", {}, f"unix://{LAB}/docker.sock"),
])
def test_the_setup_goes_to_the_daemon_named_else_docker_host_unless_it_is_the_tap_else_the_labs(
        option: str, environ: dict[str, str], expected: str) -> None:
    assert daemon_address(option, environ, f"unix://{LAB}/tap.sock", LAB) == expected


@pytest.mark.parametrize(("mirrors", "expected"), [
    (["http://127.0.0.1:5000/"], "127.0.0.1:5000"),
    (["not a url", "https://mirror.example:5443"], "mirror.example:5443"),
    ([], ""),
])
def test_the_lab_registry_is_the_daemons_docker_hub_mirror(mirrors: list[str], expected: str) -> None:
    assert registry_from_mirrors(mirrors) == expected


def test_the_countdown_counts_each_second_down_and_none_is_no_countdown() -> None:
    assert countdown_text(3) == ["next in 3…", " 2…", " 1…"]
    assert countdown_text(1) == ["next in 1…"]
    assert countdown_text(0) == []


def test_an_export_line_sets_each_variable_it_names() -> None:
    assert exported(["export", "DOCKER_HOST=tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY=1", "A=b=c"]) == {
        "DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1", "A": "b=c"}


def test_a_tap_is_looked_for_without_a_request(tmp_path: Path) -> None:
    assert tap_unreachable_reason(f"unix://{tmp_path}/none.sock") == "no socket there"
    assert tap_unreachable_reason("ftp://x") == "it is neither unix:///PATH nor tcp://HOST:PORT"
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(tmp_path / "t.sock"))
    listening.listen()
    try:
        assert tap_unreachable_reason(f"unix://{tmp_path}/t.sock") is None
    finally:
        listening.close()
    assert tap_unreachable_reason(f"unix://{tmp_path}/t.sock") is not None  # a socket file nobody listens on


def test_the_throwaway_certificates_are_what_the_tap_and_the_docker_cli_read(tmp_path: Path) -> None:
    certificates = throwaway_certificates(tmp_path / "certs")
    assert sorted(path.name for path in certificates.folder.iterdir()) == [
        "ca.pem", "cert.pem", "key.pem", "server-cert.pem", "server-key.pem"]
    server_context(str(certificates.ca), str(certificates.server), str(certificates.server_key), ("a", "b", "c"))
    assert all(oct(path.stat().st_mode)[-3:] == "600" for path in certificates.folder.iterdir())


# The command


def test_lesson_list_names_each_lesson_with_its_title() -> None:
    out = io.StringIO()
    call_command("lesson", "list", stdout=out)
    listed = out.getvalue().splitlines()
    assert [line.split()[0] for line in listed] == list(LESSONS)
    assert any(line.startswith("pull-nginx") and "1 command" in line and "docker pull nginx" in line
               for line in listed)


def test_lesson_show_gives_the_commands_and_their_steps_without_running_anything() -> None:
    out = io.StringIO()
    call_command("lesson", "show", "build", stdout=out)
    shown = out.getvalue()
    assert "$ docker build -t my-app .\n  1. User: " in shown and "FROM alpine:3.18" in shown
    assert "Setup: the image alpine:3.18 is removed first" in shown


def test_lesson_run_with_no_tap_answering_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"No API tap answers at unix://.*none\.sock \(no socket there\)\. "
                                           r"Start the lab and the dashboard with \./scripts/serve"):
        call_command("lesson", "run", "pull-nginx", "--no-countdown", "--tap", f"unix://{tmp_path}/none.sock")


def test_lesson_run_with_no_daemon_behind_the_tap_says_how_to_start_one(tmp_path: Path) -> None:
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(tmp_path / "tap.sock"))
    listening.listen()
    try:
        with pytest.raises(CommandError, match=r"No Docker daemon answers at unix://.*nodaemon\.sock .*where the "
                                               r"lesson's setup goes\. Start the lab with \./scripts/serve"):
            call_command("lesson", "run", "pull-nginx", "--no-countdown", "--tap", f"unix://{tmp_path}/tap.sock",
                         "--daemon", f"unix://{tmp_path}/nodaemon.sock")
    finally:
        listening.close()


def test_lesson_run_of_an_unknown_lesson_names_the_lessons() -> None:
    with pytest.raises(CommandError, match="there is no lesson called 'pull-ngnix': the lessons are build, "
                                           "images-vs-containers, pull-nginx"):
        call_command("lesson", "run", "pull-ngnix", "--no-countdown")


def test_every_option_of_lesson_run_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        call_command("lesson", "run", "--help")
    shown = capsys.readouterr().out
    for option in ("--countdown SECONDS", "--no-countdown", "--tap ADDRESS", "--daemon ADDRESS",
                   "--registry HOST:PORT", "--remote-port PORT"):
        help_text = shown.split(option, 1)[1].split("\n  --", 1)[0]
        assert len(help_text.split()) >= 5, option


def test_the_shipped_lessons_folder_holds_only_lesson_files() -> None:
    assert sorted(path.name for path in FILES.iterdir()) == [f"{name}.toml" for name in LESSONS]


def test_every_lesson_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert [name for name in LESSONS if f"| `{name}` |" not in readme] == []
