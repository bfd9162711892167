"""Reading query-string values from outside: each reader raises QueryError with a message naming the fix."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

MAX_VALUE = 64
# Unix seconds accepted: from the epoch to the year 3000.
LATEST_SECONDS = 32_503_680_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class QueryError(ValueError):
    """A query-string value archviz cannot use; the message says what to send instead."""


def parameters(query: Mapping[str, list[str]], allowed: Collection[str]) -> dict[str, str]:
    """The query string as one value per name; QueryError naming any parameter that is not in `allowed` (a typo
    would otherwise widen a filter silently) or is given more than once."""
    unknown = sorted(name[:40] for name in query if name not in allowed)
    if unknown:
        raise QueryError(f"unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:10])}: "
                         f"this endpoint takes {', '.join(allowed)}")
    for name, values in query.items():
        if len(values) > 1:
            raise QueryError(f"{name} is given {len(values)} times: give it once")
    return {name: values[0] for name, values in query.items()}


def whole_number(name: str, value: str, low: int, high: int, example: int) -> int:
    """`name=N`, N a whole number from `low` to `high` in ASCII digits (str.isdigit alone lets `²` through, which
    int() then refuses)."""
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))) or not low <= int(text) <= high:
        raise QueryError(f"{name}={text[:40]!r} is not a number from {low} to {high}: e.g. {name}={example}")
    return int(text)


def parse_instant(name: str, value: str) -> int:
    """Unix seconds (`1795348000.5`) or ISO 8601 (`2026-11-22T12:00:00Z`) -> nanoseconds since the epoch."""
    text = value.strip()
    example = f"use Unix seconds (e.g. {name}=1795348000) or ISO 8601 (e.g. {name}=2026-11-22T12:00:00Z)"
    if not text or len(text) > MAX_VALUE:
        raise QueryError(f"{name} is {'empty' if not text else 'too long'}: {example}")
    try:
        seconds = Decimal(text)
    except InvalidOperation:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise QueryError(f"{name}={text!r} is neither Unix seconds nor ISO 8601: {example}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = Decimal((moment - EPOCH) // timedelta(microseconds=1)) / 1_000_000
    if not seconds.is_finite() or not 0 <= seconds <= LATEST_SECONDS:
        raise QueryError(f"{name}={text!r} is out of range: {example}")
    return int(seconds * 1_000_000_000)


def time_range(query: dict[str, str]) -> tuple[int | None, int | None]:
    """`since` and `until` from a query string; either may be missing."""
    since = parse_instant("since", query["since"]) if "since" in query else None
    until = parse_instant("until", query["until"]) if "until" in query else None
    if since is not None and until is not None and since > until:
        raise QueryError("since is after until: swap them")
    return since, until
