"""Reports a team asks of its audit trail, in one table (REPORTS): who pulled a digest, activity per actor and per
repository, tags nobody pulled for N days, pushes outside working hours. Each report names the audit filter's
parameters it takes and its own options (each with its reader), and builds flat records, so the same rows serve
its page, its JSON endpoint and its CSV. A new report is one row of the table.

The JSON endpoint pages its records (`report_page`) with the audit trail's cursor code: a cursor holds the newest
audit row of the first page and the next record's place, so every page lists the records of the same events,
whatever arrives in between.

Existence checks (a HEAD asks whether something exists and downloads nothing) are not pulls: "who pulled" and the
cleanup candidates leave them out, and the activity reports count them apart, as `checks`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q

from archviz.audit.hours import (
    DEFAULT_HOURS,
    DEFAULT_WEEKDAYS,
    WEEKDAYS,
    WorkingHours,
    read_hours,
    read_weekdays,
    read_zone,
)
from archviz.audit.query import ALL_ACTIONS, AuditFilter, csv_line, cursor_text, iso_time
from archviz.audit.tags import Pull, Push, Removal, current_tags, unpulled
from archviz.models import AuditEvent
from archviz.query import QueryError, whole_number

Record = dict[str, Any]
MAX_DAYS = 36_500
DIGESTS_PER_QUERY = 500


@dataclass(frozen=True)
class Option:
    """A parameter of a report's own, besides the audit filter's: `read` turns its text (the default when it is
    not given) into a value, or raises QueryError naming the fix."""

    name: str
    label: str
    default: Callable[[], str]
    read: Callable[[str], Any]
    help: str


@dataclass(frozen=True)
class Report:
    """One report: its name in URLs, what a team reads on its page, and how it is built."""

    name: str
    title: str
    summary: str
    key: str  # the JSON endpoint's answer is {key: [records]}
    columns: tuple[str, ...]
    build: Callable[[AuditFilter, dict[str, Any]], Iterable[Record]]
    empty: str  # what the page says, and suggests, when there is nothing to show
    filters: tuple[str, ...] = AuditFilter.PARAMETERS
    options: tuple[Option, ...] = ()
    required: str = ""  # a parameter without which there is nothing to report on
    prompt: str = ""  # what to give for it
    notes: tuple[str, ...] = ()  # more of how to read it, on its page

    @property
    def parameters(self) -> tuple[str, ...]:
        return (*self.filters, *(option.name for option in self.options))

    def read(self, query: dict[str, str]) -> tuple[AuditFilter, dict[str, Any]]:
        """The audit filter and the options of a query string (whose names are checked already)."""
        if self.required and not query.get(self.required, "").strip():
            raise QueryError(f"{self.required} is missing: {self.prompt}")
        options = {option.name: option.read(query.get(option.name, "").strip() or option.default())
                   for option in self.options}
        return AuditFilter.from_query({name: value for name, value in query.items() if name in self.filters}), options


def report_page(report: Report, query: dict[str, str], size: int, cursor: tuple[int, int] | None
                ) -> tuple[list[Record], str | None]:
    """`size` records of the report from the place `cursor` (archviz.audit.query.parse_cursor) names, or from its
    first, and the cursor of the next page, or None at the end. A cursor is (the newest audit row the report is
    as of, the place of the page's first record)."""
    audit_filter, options = report.read(query)
    through, start = cursor if cursor is not None else (
        AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0, 0)
    records = report.build(replace(audit_filter, through=through), options)
    found = list(islice(islice(records, start, None), size + 1))
    return found[:size], cursor_text(through, start + size) if len(found) > size else None


# Who pulled a digest ------------------------------------------------------------------------------------------


def who_pulled(audit_filter: AuditFilter, options: dict[str, Any]) -> list[Record]:
    """Each (repository, actor, address, user agent, source) that pulled the filter's digest: how many times, first
    and last, the latest first."""
    if audit_filter.action not in ("", "pull"):
        raise QueryError(f"action={audit_filter.action!r}: this report is about pulls (leave action out)")
    pulls = replace(audit_filter, action="pull", checks="hide").queryset().order_by()
    groups = (pulls.values("repository", "actor", "request_addr", "request_useragent", "source")
              .annotate(pulls=Count("id"), first_ns=Min("time_ns"), last_ns=Max("time_ns"))
              .order_by("-last_ns", "actor", "request_addr"))
    return [{"digest": audit_filter.digest, "repository": group["repository"], "actor": group["actor"],
             "addr": group["request_addr"], "useragent": group["request_useragent"], "source": group["source"],
             "pulls": group["pulls"], "first": iso_time(group["first_ns"]), "last": iso_time(group["last_ns"])}
            for group in groups]


# Activity per actor, per repository ---------------------------------------------------------------------------


def activity(by: str, distinct: str, distinct_name: str) -> Callable[[AuditFilter, dict[str, Any]], list[Record]]:
    """Per value of `by` (an actor, a repository): downloads and other events per action, existence checks apart,
    how many distinct values of `distinct`, first and last; the busiest first. One query, one pass over the rows."""
    check = Q(request_method="HEAD")
    counts = {"checks": Count("id", filter=check),
              **{action: Count("id", filter=Q(action=action) & ~check) for action in ALL_ACTIONS}}

    def build(audit_filter: AuditFilter, options: dict[str, Any]) -> list[Record]:
        groups = (audit_filter.queryset().order_by().values(by)
                  .annotate(total=Count("id"), spread=Count(distinct, distinct=True), first_ns=Min("time_ns"),
                            last_ns=Max("time_ns"), **counts))
        report = [{by: group[by], "total": group["total"], **{name: group[name] for name in ALL_ACTIONS},
                   "checks": group["checks"], distinct_name: group["spread"], "first": iso_time(group["first_ns"]),
                   "last": iso_time(group["last_ns"])} for group in groups]
        return sorted(report, key=lambda record: (-record["total"], record[by]))

    return build


# Tags nobody pulled for N days --------------------------------------------------------------------------------


def unpulled_tags(audit_filter: AuditFilter, options: dict[str, Any]) -> Iterator[Record]:
    """Cleanup candidates as of the filter's `until` (now when not given): see archviz.audit.tags for the rules."""
    as_of = time.time_ns() if audit_filter.until is None else audit_filter.until
    rows = audit_filter.queryset().order_by()
    pushes = (Push(*values) for values in rows.filter(action="push", target_kind="manifest").exclude(tag="")
              .values_list("repository", "tag", "digest", "actor", "source", "time_ns").iterator())
    removals = (Removal(*values) for values in rows.filter(action="delete").exclude(target_kind="blob")
                .values_list("repository", "tag", "digest", "time_ns").iterator())
    tags = current_tags(pushes, removals, as_of)
    digests = sorted({push.digest for push in tags.values()})
    # The downloads of those manifests only, a few hundred digests a query (audit_pullers holds every column).
    pulls = [Pull(*values) for start in range(0, len(digests), DIGESTS_PER_QUERY)
             for values in rows.filter(action="pull", digest__in=digests[start:start + DIGESTS_PER_QUERY])
             .exclude(request_method="HEAD").values("repository", "digest").annotate(last=Max("time_ns"))
             .values_list("repository", "digest", "last")]
    for candidate in unpulled(tags, pulls, as_of, options["days"]):
        push = candidate.push
        yield {"repository": push.repository, "tag": push.tag, "digest": push.digest, "pushed": iso_time(push.time_ns),
               "pushed_by": push.actor, "last_pulled": "never" if candidate.last_pulled_ns is None
               else iso_time(candidate.last_pulled_ns), "source": push.source}


# Pushes outside working hours ---------------------------------------------------------------------------------


def after_hours_pushes(audit_filter: AuditFilter, options: dict[str, Any]) -> Iterator[Record]:
    """The manifests pushed outside the working hours of the options, the latest first."""
    hours = WorkingHours(*options["hours"], options["weekdays"], options["tz"])
    pushes = (replace(audit_filter, action="push", kind="manifest").queryset().order_by("-time_ns", "-id")
              .values_list("time_ns", "repository", "tag", "digest", "actor", "request_addr", "request_useragent",
                           "source"))
    for time_ns, repository, tag, digest, actor, addr, useragent, source in pushes.iterator(chunk_size=2000):
        if not hours.covers(time_ns):
            local = hours.local(time_ns)
            yield {"time": iso_time(time_ns), "local_time": local.isoformat(), "weekday": WEEKDAYS[local.weekday()],
                   "repository": repository, "tag": tag, "digest": digest, "actor": actor, "addr": addr,
                   "useragent": useragent, "source": source}


# The table ----------------------------------------------------------------------------------------------------

NO_EVENTS_IN_RANGE = ("No registry events match: widen since and until, or clear a filter. A registry's events "
                      "arrive here once its notifications point at this dashboard (see the audit page).")

REPORTS: dict[str, Report] = {report.name: report for report in (
    Report(
        name="pulls", title="Who pulled a digest", key="pulls",
        summary="Every actor, client address and user agent that downloaded one digest: how often, first and last.",
        columns=("digest", "repository", "actor", "addr", "useragent", "source", "pulls", "first", "last"),
        build=who_pulled, required="digest",
        prompt="give the digest to report on, e.g. digest=sha256:<64 hex> (on the audit page, \"who pulled\" "
               "beside a pulled digest fills it in)",
        empty="Nobody downloaded this digest in this range: check it on the audit page (existence checks, HEAD, "
              "are not pulls), or widen since and until.",
    ),
    Report(
        name="actors", title="Activity per actor", key="actors",
        summary="Per actor (the user a registry authenticated; empty for an anonymous client): events per action, "
                "existence checks apart, how many repositories, first and last.",
        columns=("actor", "total", *ALL_ACTIONS, "checks", "repositories", "first", "last"),
        build=activity("actor", "repository", "repositories"), empty=NO_EVENTS_IN_RANGE,
    ),
    Report(
        name="repositories", title="Activity per repository", key="repositories",
        summary="Per repository: pushes, pulls, deletes and the other actions, existence checks apart, how many "
                "distinct actors, first and last activity.",
        columns=("repository", "total", *ALL_ACTIONS, "checks", "actors", "first", "last"),
        build=activity("repository", "actor", "actors"), empty=NO_EVENTS_IN_RANGE,
    ),
    Report(
        name="unpulled-tags", title="Tags nobody pulled", key="tags",
        summary="Cleanup candidates: tags pushed at least N days ago whose manifest nobody has pulled since (by tag "
                "or by digest); never pulled first.",
        columns=("repository", "tag", "digest", "pushed", "pushed_by", "last_pulled", "source"),
        build=unpulled_tags, filters=("repository", "source", "until"),
        options=(Option("days", "not pulled for days", lambda: "30",
                        lambda value: whole_number("days", value, 0, MAX_DAYS, 30),
                        f"0 to {MAX_DAYS:,}: a tag pushed within them is not a candidate yet"),),
        empty="Every tag pushed at least that many days ago was pulled since (or no tag was pushed): nothing to "
              "clean up. Lower days to list tags pulled less recently.",
        notes=("The report is as of until (now when it is not given).",
               "A pull counts for every tag pointing to the manifest pulled, in its repository; a pull of what a tag "
               "pointed to before it was pushed again does not count for it."),
    ),
    Report(
        name="after-hours-pushes", title="Pushes outside working hours", key="pushes",
        summary="Images (manifests) pushed outside the working hours and days given, in the time zone given.",
        columns=("time", "local_time", "weekday", "repository", "tag", "digest", "actor", "addr", "useragent",
                 "source"),
        build=after_hours_pushes,
        filters=("repository", "tag", "actor", "addr", "useragent", "source", "since", "until"),
        options=(Option("hours", "working hours", lambda: DEFAULT_HOURS, read_hours,
                        "24-hour clock, the end excluded: a push at 18:00:00 is outside 08:00-18:00"),
                 Option("weekdays", "working days", lambda: DEFAULT_WEEKDAYS, read_weekdays,
                        "days or ranges of days: mon-fri, sun-thu, mon,wed,fri"),
                 Option("tz", "time zone", lambda: settings.TIME_ZONE, read_zone,
                        "an IANA name: Europe/Berlin, America/New_York, UTC")),
        empty="No image was pushed outside these working hours in this range. Change the hours, days or time zone "
              "to look again, or widen since and until.",
    ),
)}


# The audit filter's parameters as a form shows them: label and placeholder.
FILTER_FIELDS = {
    "repository": ("repository", "lab/app"), "tag": ("tag", ""), "digest": ("digest", "sha256:…"),
    "action": ("action", ""), "kind": ("target", ""), "source": ("source", ""), "checks": ("existence checks", ""),
    "actor": ("actor", ""), "addr": ("client address", ""), "useragent": ("user agent contains", ""),
    "manifest": ("referenced by manifest", "sha256:…"), "since": ("since", "Unix s or ISO 8601"),
    "until": ("until", "Unix s or ISO 8601"),
}


def report_fields(report: Report, query: dict[str, str]) -> list[dict[str, Any]]:
    """The fields of a report's form, with the values the query gives (a select's choices; an option's default as
    its placeholder and its help)."""
    fields = [{"name": name, "label": FILTER_FIELDS[name][0], "placeholder": FILTER_FIELDS[name][1],
               "value": query.get(name, ""), "choices": AuditFilter.CHOICES.get(name, ()), "help": ""}
              for name in report.filters]
    fields += [{"name": option.name, "label": option.label, "placeholder": option.default(),
                "value": query.get(option.name, ""), "choices": (), "help": option.help} for option in report.options]
    return fields


def csv_lines(records: Iterable[Record], columns: tuple[str, ...]) -> Iterator[str]:
    yield csv_line(list(columns))
    for record in records:
        yield csv_line([record[name] for name in columns])
