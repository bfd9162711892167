"""Working hours as the "pushes outside working hours" report reads them: the boundaries of the working day, the
weekend, a team's time zone and its summer time, and the query values that set them."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from archviz.audit.hours import WorkingHours, read_hours, read_weekdays, read_zone
from archviz.query import QueryError


def ns(moment: str) -> int:
    whole, _, fraction = moment.removesuffix("Z").partition(".")
    return int(datetime.fromisoformat(whole + "+00:00").timestamp()) * 10**9 + int((fraction or "0").ljust(9, "0"))


def hours(zone: str = "UTC", clock: str = "08:00-18:00", days: str = "mon-fri") -> WorkingHours:
    return WorkingHours(*read_hours(clock), read_weekdays(days), read_zone(zone))


@pytest.mark.parametrize(
    ("moment", "working", "inside"),
    [
        ("2026-11-20T08:00:00Z", hours(), True),  # a Friday: the first minute is in
        ("2026-11-20T07:59:59.999999999Z", hours(), False),
        ("2026-11-20T17:59:59.999999999Z", hours(), True),
        ("2026-11-20T18:00:00Z", hours(), False),  # exactly 18:00 is after work
        ("2026-11-21T10:00:00Z", hours(), False),  # Saturday
        ("2026-11-22T10:00:00Z", hours(), False),  # Sunday
        ("2026-11-22T10:00:00Z", hours(days="sun-thu"), True),  # a week that wraps past Sunday
        ("2026-11-20T10:00:00Z", hours(days="sun-thu"), False),
        ("2026-11-20T07:30:00Z", hours("Europe/Berlin"), True),  # 08:30 in Berlin (CET, +1)
        ("2026-11-20T17:30:00Z", hours("Europe/Berlin"), False),  # 18:30 in Berlin
        # Summer time starts in Berlin on Sunday 29 March 2026: the same UTC clock reads an hour later after it.
        ("2026-03-27T06:59:00Z", hours("Europe/Berlin"), False),  # Friday 07:59 CET
        ("2026-03-30T06:59:00Z", hours("Europe/Berlin"), True),  # Monday 08:59 CEST
        ("2026-03-27T16:30:00Z", hours("Europe/Berlin"), True),  # Friday 17:30 CET
        ("2026-03-30T16:30:00Z", hours("Europe/Berlin"), False),  # Monday 18:30 CEST
        # Friday 23:30 UTC is Saturday lunchtime in Auckland and Friday afternoon in Los Angeles: the local date's
        # weekday counts.
        ("2026-11-20T23:30:00Z", hours("Pacific/Auckland"), False),
        ("2026-11-20T23:30:00Z", hours("America/Los_Angeles"), True),
        ("2026-11-22T03:00:00Z", hours(clock="00:00-24:00", days="mon-sun"), True),
        ("2026-11-23T11:59:00Z", hours(clock="09:00-12:00", days="mon"), True),
        ("2026-11-23T12:00:00Z", hours(clock="09:00-12:00", days="mon"), False),
    ],
)
def test_a_moment_is_inside_working_hours_by_local_clock_and_local_weekday(
        moment: str, working: WorkingHours, inside: bool) -> None:
    assert working.covers(ns(moment)) is inside


@pytest.mark.parametrize(
    ("value", "days"),
    [("mon-fri", {0, 1, 2, 3, 4}), ("sun-thu", {6, 0, 1, 2, 3}), ("MON, wed", {0, 2}), ("sat-mon", {5, 6, 0}),
     ("mon-thu,sat", {0, 1, 2, 3, 5}), ("fri-fri", {4})],
)
def test_working_days_are_days_or_ranges_that_may_wrap(value: str, days: set[int]) -> None:
    assert read_weekdays(value) == days


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        (read_hours, "8-18", "hours='8-18' is not a range of times: e.g. hours=08:00-18:00"),
        (read_hours, "", "is not a range of times"),
        (read_hours, "０８:00-18:00", "is not a range of times"),  # fullwidth digits
        (read_hours, "18:00-08:00", "ends before it starts: give the start first"),
        (read_hours, "09:00-09:00", "ends before it starts"),
        (read_hours, "25:00-26:00", "is not a time of day from 00:00 to 24:00"),
        (read_hours, "08:60-18:00", "is not a time of day"),
        (read_hours, "08:00-24:01", "is not a time of day"),
        (read_weekdays, "monday", "weekdays='monday' is not a list of days: give days among mon, tue"),
        (read_weekdays, "mon-", "is not a list of days"),
        (read_weekdays, "mon,,fri", "is not a list of days"),
        (read_weekdays, " ", "weekdays is empty: give days among"),
        (read_zone, "Mars/Olympus_Mons", "tz='Mars/Olympus_Mons' is not a time zone this machine knows: give an "
                                         "IANA time zone name, e.g. tz=Europe/Berlin"),
        (read_zone, "../../etc/passwd", "is not a time zone name"),
        (read_zone, "/etc/localtime", "is not a time zone name"),
        (read_zone, "Europe/Berlin\x00", "is not a time zone name"),
        (read_zone, "Europe/" + "x" * 100, "is not a time zone name"),
        (read_zone, "europe/berlin", "is not a time zone this machine knows"),
    ],
)
def test_a_bad_value_is_refused_naming_the_fix(read, value: str, message: str) -> None:  # noqa: ANN001
    with pytest.raises(QueryError, match=re.escape(message)):
        read(value)
