"""`manage.py session list|save|export|import|delete`: saved sessions for a class (archviz.classroom.sessions).

- `session save NAME --since … --until … [--title …]` keeps the live store's observations of that range;
- `session export NAME > F.json` writes one session as a file (a kept one or one that ships with archviz);
- `session import F.json [--as NAME]` checks the file whole and keeps it, or refuses it saying why, storing nothing;
- `session list`, `session delete NAME`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archviz.classroom import sessions
from archviz.query import QueryError, parse_instant


class Command(BaseCommand):
    help = "Keep, list, export, import and delete saved sessions (named time ranges a class can replay)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="list|save|export|import|delete")
        actions.add_parser("list", help="every session: shipped with archviz, then kept here")
        save = actions.add_parser("save", help="keep the observations of a time range as a session")
        save.add_argument("name", help="lower-case letters, digits and dashes, e.g. pull-nginx")
        save.add_argument("--since", required=True, help="Unix seconds or ISO 8601, e.g. 2026-11-29T10:02:00Z")
        save.add_argument("--until", required=True, help="Unix seconds or ISO 8601")
        save.add_argument("--title", default="", help='what it shows, e.g. "pull nginx, 10:02–10:03"')
        export = actions.add_parser("export", help="write a session as one JSON file to standard output")
        export.add_argument("name")
        load = actions.add_parser("import", help="check a session file and keep it (all or nothing)")
        load.add_argument("file", help="a file written by `session export` ('-' reads standard input)")
        load.add_argument("--as", dest="rename", default="", help="keep it under this name instead")
        delete = actions.add_parser("delete", help="forget a kept session (shipped ones stay)")
        delete.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"_{action}")(**options)
        except (sessions.SessionError, QueryError) as error:
            raise CommandError(str(error)) from None

    def _list(self, **options: Any) -> None:
        found = sessions.catalogue()
        if not found:
            self.stdout.write("No sessions yet: keep one with `session save NAME --since … --until …`.")
        for session in found:
            origin = "shipped" if session["shipped"] else "kept"
            self.stdout.write(f"{session['name']:32} {session['observations']:7} observations  {origin:7} "
                              f"{session['title']}")

    def _save(self, name: str, since: str, until: str, title: str, **options: Any) -> None:
        since_ns, until_ns = parse_instant("since", since), parse_instant("until", until)
        if since_ns > until_ns:
            raise CommandError("--since is after --until: swap them")
        kept = sessions.save_range(name, title, since_ns, until_ns)
        self.stdout.write(f"Kept {kept.name}: {len(kept.observations)} observations. "
                          f"Replay it at /present/?session={kept.name}")

    def _export(self, name: str, **options: Any) -> None:
        session = sessions.load(name)
        if session is None:
            raise CommandError(f"no session named {name}: `session list` shows them")
        self.stdout.write(json.dumps(session.to_json(), ensure_ascii=False))

    def _import(self, file: str, rename: str, **options: Any) -> None:
        raw = sys.stdin.buffer.read() if file == "-" else _read(Path(file))
        session = sessions.parse(raw)
        if rename:
            session = replace(session, name=sessions.check_name(rename))
        sessions.store(session)
        self.stdout.write(f"Imported {session.name}: {len(session.observations)} observations. "
                          f"Replay it at /present/?session={session.name}")

    def _delete(self, name: str, **options: Any) -> None:
        if not sessions.delete(name):
            raise CommandError(f"no kept session named {name} (shipped sessions cannot be deleted)")
        self.stdout.write(f"Deleted {name}.")


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(sessions.max_bytes() + 1)
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
