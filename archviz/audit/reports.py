"""Reports a team asks of its audit trail, each over the events an AuditFilter selects: who pulled a digest (from
which address, with which user agent), and what each actor did. Each is a list of flat records, so the same
rows serve the JSON endpoint and the CSV.

Existence checks (a HEAD asks whether something exists and downloads nothing) are not pulls: "who pulled" leaves
them out, and the actors report counts them apart, as `checks`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.db.models import Count, Max, Min

from archviz.audit.query import ALL_ACTIONS, AuditFilter, csv_line, iso_time
from archviz.query import QueryError

PULLER_COLUMNS = ("digest", "repository", "actor", "addr", "useragent", "source", "pulls", "first", "last")
ACTOR_COLUMNS = ("actor", "total", *ALL_ACTIONS, "checks", "repositories", "first", "last")


def who_pulled(audit_filter: AuditFilter) -> list[dict[str, Any]]:
    """Each (repository, actor, address, user agent, source) that pulled the filter's digest: how many times, first
    and last, the latest first."""
    if not audit_filter.digest:
        raise QueryError("digest is missing: give the digest to report on, e.g. digest=sha256:<64 hex>")
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


def actor_activity(audit_filter: AuditFilter) -> list[dict[str, Any]]:
    """Per actor (the empty name is an anonymous client): events per action, existence checks, how many
    repositories, first and last; the busiest first."""
    rows = audit_filter.queryset().order_by()
    report: dict[str, dict[str, Any]] = {}
    for group in (rows.values("actor").annotate(total=Count("id"), repositories=Count("repository", distinct=True),
                                               first_ns=Min("time_ns"), last_ns=Max("time_ns"))):
        report[group["actor"]] = {"actor": group["actor"], "total": group["total"],
                                  **dict.fromkeys(ALL_ACTIONS, 0), "checks": 0,
                                  "repositories": group["repositories"], "first": iso_time(group["first_ns"]),
                                  "last": iso_time(group["last_ns"])}
    for count in rows.exclude(request_method="HEAD").values("actor", "action").annotate(n=Count("id")):
        report[count["actor"]][count["action"]] = count["n"]
    for count in rows.filter(request_method="HEAD").values("actor").annotate(n=Count("id")):
        report[count["actor"]]["checks"] = count["n"]
    return sorted(report.values(), key=lambda record: (-record["total"], record["actor"]))


REPORTS = {"pulls": (who_pulled, PULLER_COLUMNS), "actors": (actor_activity, ACTOR_COLUMNS)}


def as_csv(records: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    return csv_line(list(columns)) + "".join(csv_line([record[name] for name in columns]) for record in records)
