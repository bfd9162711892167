"""`manage.py lesson list|show|run`: the lessons' scenarios (archviz.lessons), typed against the lab for a class.

- `lesson list`: every lesson, with its title and how many commands it types;
- `lesson show NAME`: its setup, files, commands and steps, without running anything;
- `lesson run NAME`: its setup straight to the daemon, then each command through the API tap, with a countdown, the
  command echoed as typed, its output and its steps; then where the dashboard draws it and how to keep it.
"""

from __future__ import annotations

import os
import shlex
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from archviz.lessons.lesson import Lesson, LessonError, catalogue, find
from archviz.lessons.runner import (
    COMPONENTS,
    LessonFailed,
    Pace,
    Ran,
    Where,
    daemon_address,
    run,
    steps_text,
    tap_address,
)

COUNTDOWN_SECONDS = 3


class Command(BaseCommand):
    help = "List, show or run the lessons' scenarios: their commands typed against the lab through the API tap."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="list|show|run")
        actions.add_parser("list", help="every lesson: its name, title and how many commands it types")
        show = actions.add_parser("show", help="a lesson's setup, files, commands and steps, without running it")
        show.add_argument("name", help="a lesson's name, as `lesson list` gives it, e.g. pull-nginx")
        go = actions.add_parser("run", help="type a lesson's commands against the lab through the API tap")
        go.add_argument("name", help="a lesson's name, as `lesson list` gives it, e.g. pull-nginx")
        go.add_argument("--countdown", type=int, default=COUNTDOWN_SECONDS, metavar="SECONDS",
                        help=f"seconds counted down before each command (default {COUNTDOWN_SECONDS})")
        go.add_argument("--no-countdown", action="store_true",
                        help="type each command at once, with no countdown and no typing effect (for tests)")
        go.add_argument("--tap", default="", metavar="ADDRESS",
                        help="the API tap the commands go through, unix:///PATH or tcp://HOST:PORT (default: "
                             "ARCHVIZ_TAP_SOCKET, else the lab's tap.sock in ARCHVIZ_LAB_DIR)")
        go.add_argument("--daemon", default="", metavar="ADDRESS",
                        help="the daemon behind the tap, where the setup goes straight (default: DOCKER_HOST "
                             "unless it is the tap, else the lab's docker.sock in ARCHVIZ_LAB_DIR)")
        go.add_argument("--registry", default="", metavar="HOST:PORT",
                        help="the lab registry a push lesson pushes to (default: the daemon's Docker Hub mirror, "
                             "which is the lab registry)")
        go.add_argument("--remote-port", type=int, default=0, metavar="PORT",
                        help="where the remote lesson's TLS tap listens on 127.0.0.1 (default: any free port)")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"_{action}")(**options)
        except (LessonError, LessonFailed) as error:
            raise CommandError(str(error)) from None

    def _list(self, **options: Any) -> None:
        for lesson in catalogue():
            count = len(lesson.docker_commands)
            self.stdout.write(f"{lesson.name:24} {count} command{'s' if count > 1 else ' '}  {lesson.title}")

    def _show(self, name: str, **options: Any) -> None:
        lesson = find(name)
        self.stdout.write(f"{lesson.name}: {lesson.title}\n{lesson.about}")
        self.stdout.write(f"Parties: {', '.join(COMPONENTS[party] for party in lesson.parties)}")
        for image in lesson.setup.absent_images:
            self.stdout.write(f"Setup: the image {image} is removed first")
        for container in lesson.setup.absent_containers:
            self.stdout.write(f"Setup: the container {container} is removed first")
        for file_name, content in lesson.files.items():
            self.stdout.write(f"File {file_name}:\n" + "".join(f"  {line}\n" for line in content.splitlines()))
        for command in lesson.commands:
            self.stdout.write(f"$ {command.typed}")
            for line in steps_text(command):
                self.stdout.write(line)

    def _run(self, name: str, countdown: int, no_countdown: bool, tap: str, daemon: str, registry: str,
             remote_port: int, **options: Any) -> None:
        if countdown < 0 or not 0 <= remote_port < 65536:
            raise CommandError("--countdown is a number of seconds (0 or more), --remote-port a TCP port")
        lesson = find(name)
        tap = tap_address(tap, settings.ARCHVIZ_TAP_SOCKET, settings.ARCHVIZ_LAB_DIR)
        where = Where(tap, daemon_address(daemon, os.environ, tap, settings.ARCHVIZ_LAB_DIR), registry, remote_port)
        pace = Pace(0, 0.0) if no_countdown else Pace(countdown)
        began = time.monotonic()
        ran = run(lesson, where, pace, self._write)
        self._summary(lesson, ran, time.monotonic() - began)

    def _write(self, text: str) -> None:
        self.stdout.write(text, ending="")
        self.stdout.flush()

    def _summary(self, lesson: Lesson, ran: Ran, took: float) -> None:
        since, until = f"{ran.since_ns / 1e9:.9f}", f"{ran.until_ns / 1e9:.9f}"
        keep = f"{lesson.name}-{time.strftime('%H%M')}"
        self.stdout.write(
            f"\nDone: {ran.commands} command{'s' if ran.commands > 1 else ''} in {ran.own_seconds:.2f} s of their "
            f"own; the lesson took {took:.2f} s.\n"
            f"The dashboard draws them from since={since} to until={until}:\n"
            f"  /api/sequence.mmd?since={since}&until={until}\n"
            f"Keep them as a session:\n"
            f"  python manage.py session save {keep} --since {since} --until {until} "
            f"--title {shlex.quote(lesson.title)}")
