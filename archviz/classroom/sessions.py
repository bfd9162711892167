"""Saved sessions: a named time range of observations, copied out of the live store so that pruning never
touches it, exported as one JSON file and imported on another machine (a classroom laptop with no Docker at all).

The file is `{"format": "archviz-session", "version": 1, "name", "title", "since", "until", "observations": […]}`
with each observation in the store's wire shape minus its id (its place in the list is its id when drawn).
`parse` checks a file from outside completely before anything is stored, and says what is wrong in a sentence;
`store` then writes it in one transaction: a refused file leaves nothing behind. Sessions that ship with archviz
are files in `archviz/classroom/shipped/`, read from there.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from archviz.kinds import ALL_KINDS
from archviz.models import Session, SessionObservation, StoredObservation
from archviz.observation import Source

FORMAT = "archviz-session"
VERSION = 1
SHIPPED = Path(__file__).resolve().parent / "shipped"
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
FIELDS = {"time_ns", "source", "host", "kind", "subject", "attributes", "correlation"}
SOURCES = {source.value for source in Source}
LIMITS = {"host": 255, "kind": 64, "subject": 512, "correlation": 255}
MAX_DEPTH = 16  # attributes nest a level or two; a file nested deeper is not one archviz wrote


class SessionError(ValueError):
    """A session file or request archviz cannot use; the message names the problem and the fix."""


class SessionTooBig(SessionError):
    """A session file over ARCHVIZ_SESSION_MAX_BYTES."""


@dataclass(frozen=True)
class SessionFile:
    name: str
    title: str
    since_ns: int
    until_ns: int
    observations: list[dict[str, Any]]  # wire shape, ids 1, 2, … in order

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "name": self.name, "title": self.title,
                "since": str(self.since_ns), "until": str(self.until_ns),
                "observations": [{k: v for k, v in o.items() if k != "id"} for o in self.observations]}

    def summary(self, shipped: bool) -> dict[str, Any]:
        return {**self.heading(), "observations": len(self.observations), "shipped": shipped}

    def heading(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "since": str(self.since_ns), "until": str(self.until_ns)}


def max_bytes() -> int:
    return int(settings.ARCHVIZ_SESSION_MAX_BYTES)


def max_observations() -> int:
    return int(settings.ARCHVIZ_SESSION_MAX_OBSERVATIONS)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise SessionError(f"{name[:80]!r} is not a session name: use lower-case letters, digits and dashes, "
                           "at most 64, e.g. pull-nginx")
    return name


def parse(raw: bytes) -> SessionFile:
    """A session file from outside, checked whole; SessionError says what is wrong with it."""
    if len(raw) > max_bytes():
        raise SessionTooBig(f"the file is {len(raw):,} bytes; sessions are at most {max_bytes():,} "
                           "(ARCHVIZ_SESSION_MAX_BYTES)")
    try:
        document = json.loads(raw)
    except RecursionError:
        raise SessionError("the file is nested too deeply to be a session file") from None
    except UnicodeDecodeError:
        raise SessionError("the file is not UTF-8 text: is it a session file?") from None
    except json.JSONDecodeError as error:
        if error.msg.startswith("Unterminated string") or error.pos >= len(raw.rstrip()) - 1:
            raise SessionError(f"the file ends before its JSON does (at byte {error.pos:,}): it was cut short; "
                               "export it again") from None
        raise SessionError(f"the file is not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SessionError(f"this is not an archviz session file (it has no \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise SessionError(f"the file is version {document.get('version')!r}; this archviz reads version {VERSION}: "
                           "export it again from an archviz of this version")
    name = check_name(_text(document, "name", 64))
    title = _text(document, "title", 200)
    since, until = _instant(document, "since"), _instant(document, "until")
    if since > until:
        raise SessionError("since is after until: the file is damaged")
    observations = document.get("observations")
    if not isinstance(observations, list):
        raise SessionError("\"observations\" must be a list")
    if len(observations) > max_observations():
        raise SessionError(f"the file holds {len(observations):,} observations; a session holds at most "
                           f"{max_observations():,} (ARCHVIZ_SESSION_MAX_OBSERVATIONS)")
    checked = [_observation(number, o) for number, o in enumerate(observations, 1)]
    return SessionFile(name, title, since, until, checked)


def _text(document: dict[str, Any], field: str, limit: int) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise SessionError(f"\"{field}\" must be a text of 1 to {limit} characters")
    return value


def _instant(document: dict[str, Any], field: str) -> int:
    value = document.get(field)
    if not _nanoseconds(value):
        raise SessionError(f"\"{field}\" must be nanoseconds since the epoch, as a string of digits")
    return int(value)  # type: ignore[arg-type]


def _nanoseconds(value: object) -> bool:
    """A time as the store keeps it: digits that fit a 64-bit integer."""
    return isinstance(value, str) and value.isascii() and value.isdigit() and int(value) < 1 << 63


def _observation(number: int, o: object) -> dict[str, Any]:
    where = f"observation {number}"
    if not isinstance(o, dict):
        raise SessionError(f"{where} is not an object")
    if set(o) != FIELDS:
        wrong = sorted(set(o) ^ FIELDS)
        raise SessionError(f"{where} has the wrong fields ({', '.join(wrong)}); each has exactly "
                           f"{', '.join(sorted(FIELDS))}")
    if not _nanoseconds(o["time_ns"]):
        raise SessionError(f"{where}: time_ns must be a string of digits (nanoseconds since the epoch)")
    if not isinstance(o["source"], str) or o["source"] not in SOURCES:
        raise SessionError(f"{where}: source {str(o['source'])[:40]!r} is not one of {', '.join(sorted(SOURCES))}")
    if not isinstance(o["kind"], str) or o["kind"] not in ALL_KINDS:
        raise SessionError(f"{where}: kind {str(o['kind'])[:64]!r} is not one archviz knows")
    for field, limit in LIMITS.items():
        if not isinstance(o[field], str) or len(o[field]) > limit:
            raise SessionError(f"{where}: {field} must be a text of at most {limit} characters")
    if not isinstance(o["attributes"], dict):
        raise SessionError(f"{where}: attributes must be an object")
    if _depth(o["attributes"]) > MAX_DEPTH:
        raise SessionError(f"{where}: attributes are nested more than {MAX_DEPTH} deep")
    return {"id": number, **o}


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


# The store ---------------------------------------------------------------------------------------------


def store(session: SessionFile) -> Session:
    """Keep a checked session, all or nothing. A name already taken is refused."""
    if Session.objects.filter(name=session.name).exists() or (SHIPPED / f"{session.name}.json").exists():
        raise SessionError(f"a session named {session.name} exists already: import it under another name "
                           "(--as NAME) or delete that one first")
    with transaction.atomic():
        row = Session.objects.create(name=session.name, title=session.title, since_ns=session.since_ns,
                                     until_ns=session.until_ns)
        SessionObservation.objects.bulk_create([
            SessionObservation(session=row, position=o["id"], time_ns=int(o["time_ns"]), source=o["source"],
                               host=o["host"], kind=o["kind"], subject=o["subject"], attributes=o["attributes"],
                               correlation=o["correlation"])
            for o in session.observations
        ], batch_size=2000)
    return row


def save_range(name: str, title: str, since_ns: int, until_ns: int) -> SessionFile:
    """A session of the live store's observations in [since, until], renumbered from 1, kept."""
    rows = StoredObservation.objects.filter(time_ns__gte=since_ns, time_ns__lte=until_ns).order_by("id")
    observations = [{**row.to_wire(), "id": number} for number, row in enumerate(rows[:max_observations() + 1], 1)]
    if not observations:
        raise SessionError("nothing was observed in that range: check since and until")
    if len(observations) > max_observations():
        raise SessionError(f"that range holds more than {max_observations():,} observations: choose a shorter one")
    session = SessionFile(check_name(name), title or name, since_ns, until_ns, observations)
    store(session)
    return session


def load(name: str) -> SessionFile | None:
    """A session by name: a kept one, or one that ships with archviz."""
    row = Session.objects.filter(name=name).first()
    if row is not None:
        observations = SessionObservation.wires(row.observations.order_by("position"), "position")
        return SessionFile(row.name, row.title, row.since_ns, row.until_ns, observations)
    if NAME.fullmatch(name) and (SHIPPED / f"{name}.json").is_file():
        return parse((SHIPPED / f"{name}.json").read_bytes())
    return None


def version(name: str) -> tuple[object, ...] | None:
    """What changes whenever the session of that name could have (None: there is none), read cheaply."""
    row = Session.objects.filter(name=name).values_list("pk", "created").first()
    if row is not None:
        return ("kept", *row)
    path = SHIPPED / f"{name}.json"
    if NAME.fullmatch(name) and path.is_file():
        stat = path.stat()
        return ("shipped", stat.st_mtime_ns, stat.st_size)
    return None


def catalogue() -> list[dict[str, Any]]:
    """Every session: those that ship with archviz first, then those kept here, newest first."""
    shipped = [dict(_shipped_summary(path, path.stat().st_mtime_ns)) for path in sorted(SHIPPED.glob("*.json"))]
    kept = [{"name": row.name, "title": row.title, "since": str(row.since_ns), "until": str(row.until_ns),
             "observations": row.count, "shipped": False}
            for row in Session.objects.annotate(count=Count("observations")).order_by("-created")]
    return shipped + kept


@functools.lru_cache(maxsize=256)
def _shipped_summary(path: Path, mtime_ns: int) -> dict[str, Any]:
    """A shipped session's summary, read and checked once per version of its file (not once per listing)."""
    return parse(path.read_bytes()).summary(shipped=True)


def delete(name: str) -> bool:
    deleted, _ = Session.objects.filter(name=name).delete()
    return deleted > 0
