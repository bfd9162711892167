"""Working hours: which moments fall inside a team's working day, in its time zone. Pure functions, and the readers
of the three query parameters that set them (`hours`, `weekdays`, `tz`), each raising QueryError naming the fix.

What must stay true: the working day is a half-open range of whole minutes of local time, so 08:00:00 is inside
and 18:00:00 is outside 08:00–18:00; local time is the zone's at that moment (summer time included), and the
weekday is the local date's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archviz.query import QueryError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = "08:00-18:00"
DEFAULT_WEEKDAYS = "mon-fri"
_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")


@dataclass(frozen=True)
class WorkingHours:
    """From `start` to `end` (minutes after local midnight, end excluded) on `weekdays` (0 is Monday), in `zone`."""

    start: int
    end: int
    weekdays: frozenset[int]
    zone: ZoneInfo

    def local(self, time_ns: int) -> datetime:
        return datetime.fromtimestamp(time_ns // 1_000_000_000, self.zone)

    def covers(self, time_ns: int) -> bool:
        moment = self.local(time_ns)
        return moment.weekday() in self.weekdays and self.start <= moment.hour * 60 + moment.minute < self.end


def read_hours(value: str) -> tuple[int, int]:
    """`08:00-18:00` -> (480, 1080): the start and the end (24:00 for midnight) of the working day."""
    text = value.strip()
    example = f"e.g. hours={DEFAULT_HOURS} (24-hour clock, the end excluded)"
    found = _HOURS.fullmatch(text) if text.isascii() else None
    if found is None:
        raise QueryError(f"hours={text[:40]!r} is not a range of times: {example}")
    start_hour, start_minute, end_hour, end_minute = (int(part) for part in found.groups())
    start, end = start_hour * 60 + start_minute, end_hour * 60 + end_minute
    if start_hour > 23 or end_hour > 24 or max(start_minute, end_minute) > 59 or end > 24 * 60:
        raise QueryError(f"hours={text!r} is not a time of day from 00:00 to 24:00: {example}")
    if start >= end:
        raise QueryError(f"hours={text!r} ends before it starts: give the start first, within one day, {example}")
    return start, end


def read_weekdays(value: str) -> frozenset[int]:
    """`mon-fri`, `sun-thu`, `mon,wed,fri` or `mon-thu,sat` -> the working days (0 is Monday); a range may wrap
    past Sunday."""
    text = value.strip().lower()
    example = f"give days among {', '.join(WEEKDAYS)}, e.g. weekdays={DEFAULT_WEEKDAYS} or weekdays=mon,wed,fri"
    days: set[int] = set()
    for part in text.split(",") if text else []:
        first, dash, last = part.strip().partition("-")
        if first not in WEEKDAYS or (dash and last not in WEEKDAYS):
            raise QueryError(f"weekdays={value.strip()[:40]!r} is not a list of days: {example}")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.update(day % 7 for day in range(start, end + 1 + (7 if end < start else 0)))
    if not days:
        raise QueryError(f"weekdays is empty: {example}")
    return frozenset(days)


def read_zone(value: str) -> ZoneInfo:
    """An IANA time zone name: `Europe/Berlin`, `UTC`."""
    text = value.strip()
    example = "give an IANA time zone name, e.g. tz=Europe/Berlin or tz=UTC"
    if not (len(text) <= 64 and text.isascii() and _ZONE_NAME.fullmatch(text)):
        raise QueryError(f"tz={text[:40]!r} is not a time zone name: {example}")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise QueryError(f"tz={text!r} is not a time zone this machine knows: {example}") from None
