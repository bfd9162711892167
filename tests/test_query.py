from __future__ import annotations

import pytest

from archviz.query import QueryError, parse_instant, time_range


@pytest.mark.parametrize(
    ("value", "nanoseconds"),
    [
        ("1795348000", 1_795_348_000_000_000_000),
        ("1795348000.25", 1_795_348_000_250_000_000),
        ("2026-11-22T12:00:00Z", 1_795_348_800_000_000_000),
        ("2026-11-22T13:00:00+01:00", 1_795_348_800_000_000_000),
        ("2026-11-22T12:00:00", 1_795_348_800_000_000_000),
        ("0", 0),
    ],
)
def test_unix_seconds_and_iso_8601_are_read(value: str, nanoseconds: int) -> None:
    assert parse_instant("since", value) == nanoseconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "since is empty"),
        ("yesterday", "neither Unix seconds nor ISO 8601"),
        ("nan", "out of range"),
        ("inf", "out of range"),
        ("-1", "out of range"),
        ("1e300", "out of range"),
        ("9" * 70, "too long"),
        ("2026-13-45T99:00:00Z", "neither Unix seconds nor ISO 8601"),
        ("<script>", "neither Unix seconds nor ISO 8601"),
    ],
)
def test_broken_and_hostile_instants_are_refused_with_an_example(value: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as error:
        parse_instant("since", value)
    assert "since=1795348000" in str(error.value)


def test_a_range_backwards_is_refused() -> None:
    with pytest.raises(QueryError, match="since is after until"):
        time_range({"since": "2000", "until": "1000"})
    assert time_range({}) == (None, None)
