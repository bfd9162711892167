"""What a process counts, for Prometheus (`GET /metrics` in the text exposition format).

Each process counts what it does itself (a web process its websockets and what it stores from the registry and
the dashboard; a watcher what it stores from its daemons; a tap its clients' requests; whichever process leads
publishes), as Prometheus expects of a fleet it scrapes one by one. What the store says (how far publishing lags
behind storing) is the same from every web process. `watch` and `tap` serve theirs with --metrics
(archviz.exporter).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OBSERVATIONS_INGESTED = Counter(
    "archviz_observations_ingested", "Observations this process stored, by source", ["source"])
PUBLICATIONS = Counter("archviz_publications", "Publications (numbered live frames) this process made")
PUBLISH_LATENCY = Histogram(
    "archviz_publish_latency_seconds",
    "From when an observation happened (its time_ns) to its publication being sent to the web processes",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
WEBSOCKET_CLIENTS = Gauge("archviz_websocket_clients", "Open websockets on this process, by socket", ["socket"])
RESYNCS = Counter(
    "archviz_resyncs", "Fresh snapshots browsers asked for (after a missed frame), by socket", ["socket"])
BEHIND_CLOSED = Counter(
    "archviz_sockets_closed_behind",
    "Live sockets closed because their browser fell too far behind (it reconnects to a fresh snapshot)", ["socket"])
TAP_REQUESTS = Counter(
    "archviz_tap_requests",
    "Requests clients made to the daemon through this process's API tap, answered, by method and status class",
    ["method", "status"])
LEADING = Gauge("archviz_publisher_leading", "1 while this process is the one that publishes")
UNPUBLISHED = Gauge(
    "archviz_unpublished_observations", "Observations stored but not yet published (read from the store)")

# A client writes its own method: any other word counts as `other`, so no client can make series without end.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def tap_request_labels(method: str, status: int) -> tuple[str, str]:
    """The method (or `other`) and the status class (`2xx`…, or `none` when no answer came)."""
    return method if method in METHODS else "other", f"{status // 100}xx" if 100 <= status < 600 else "none"
