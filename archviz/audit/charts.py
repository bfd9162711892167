"""The audit page's charts, over the events an AuditFilter selects: events over time by action (stacked in the
browser), the busiest repositories and the actors, each counted per action.

Existence checks (a HEAD asks whether something exists and downloads nothing) are counted apart from downloads,
as the action `check`, as everywhere on the audit page. Time buckets are round widths (1 s, 5 s, 1 min, …) that
start on a multiple of their width, so the numbers table reads "from 14:05 to 14:10".
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case, CharField, Count, F, Max, Min, QuerySet, Value, When

from archviz.audit.query import ALL_ACTIONS, AuditFilter
from archviz.models import AuditEvent

# The chart's actions, in the order they are stacked and listed: existence checks next to downloads.
LINES = tuple(dict.fromkeys(("push", "pull", "check", *ALL_ACTIONS)))
MAX_BUCKETS = 48
TOP = 10
SECOND = 1_000_000_000
# Bucket widths a reader can count in; beyond the last, whole weeks.
WIDTHS = tuple(seconds * SECOND for seconds in (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800))


def buckets(first_ns: int, last_ns: int, most: int = MAX_BUCKETS) -> tuple[int, int, int]:
    """(start, width, count): the fewest round buckets, at most `most`, that hold first_ns to last_ns."""
    for width in WIDTHS:
        start = first_ns - first_ns % width
        count = (last_ns - start) // width + 1
        if count <= most:
            return start, width, count
    week = WIDTHS[-1]
    width = week * -(-(last_ns - first_ns + 1) // (week * (most - 1)))
    start = first_ns - first_ns % width
    return start, width, (last_ns - start) // width + 1


def _line() -> Case:
    """An event's action on the chart: `check` for a HEAD, its action otherwise."""
    return Case(When(request_method="HEAD", then=Value("check")), default=F("action"), output_field=CharField())


def _top(rows: QuerySet[AuditEvent], field: str, lines: list[str]) -> dict[str, Any]:
    """The TOP busiest values of `field` (repository, actor), each counted per action, and how many others."""
    ranked = [name for name, _ in rows.values_list(field).annotate(n=Count("id")).order_by("-n", field)]
    names = ranked[:TOP]
    counts = {line: [0] * len(names) for line in lines}
    place = {name: index for index, name in enumerate(names)}
    for group in rows.filter(**{f"{field}__in": names}).annotate(line=_line()).values(field, "line") \
            .annotate(n=Count("id")):
        counts[group["line"]][place[group[field]]] += group["n"]
    return {"names": names, "counts": counts, "more": len(ranked) - len(names)}


def charts(audit_filter: AuditFilter) -> dict[str, Any]:
    """The three charts' counts, per action in `lines`: the actions that occur, in the order of LINES."""
    rows = audit_filter.queryset().order_by()
    span = rows.aggregate(first=Min("time_ns"), last=Max("time_ns"), total=Count("id"))
    if not span["total"]:
        empty = {"names": [], "counts": {}, "more": 0}
        return {"total": 0, "lines": [], "time": {"start_ns": None, "bucket_ns": None, "counts": {}},
                "repositories": empty, "actors": empty}
    start, width, count = buckets(span["first"], span["last"])
    over_time = {line: [0] * count for line in LINES}
    for group in rows.annotate(line=_line(), bucket=(F("time_ns") - start) / width).values("line", "bucket") \
            .annotate(n=Count("id")):
        over_time[group["line"]][int(group["bucket"])] += group["n"]
    lines = [line for line in LINES if any(over_time[line])]
    return {
        "total": span["total"],
        "lines": lines,
        "time": {"start_ns": str(start), "bucket_ns": str(width), "counts": {line: over_time[line] for line in lines}},
        "repositories": _top(rows, "repository", lines),
        "actors": _top(rows, "actor", lines),
    }
