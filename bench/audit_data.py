"""Synthetic but realistic registry audit events, and a bulk load of them into a migrated SQLite store: the data
of the audit benchmarks (bench/audit_scale.py in process, bench/audit_query.py over HTTP).

200 repositories of ten tags each, re-pushed over 30 days; pulls mostly of blobs and of manifests by digest,
existence checks (HEAD) by tag, one base image that every team pulls (the most pulled digest); 50 clients, each
with its own user agent and mostly its own actor (20 CI runners as ci-bot, 25 developers, 5 anonymous servers).
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

DAY_NS = 86_400 * 10**9
SPAN_NS = 30 * DAY_NS
REPOSITORIES = [f"team{n % 20}/service-{n}" for n in range(200)]
TAGS = [f"v{n}" for n in range(1, 11)]
AGENTS = ["docker/20.10.24+dfsg1 go/go1.19.8 os/linux UpstreamClient(Docker-Client/28.2.2 \\(linux\\))",
          "docker/27.1.1 go/go1.22.5 os/linux UpstreamClient(Docker-Client/27.1.1 \\(linux\\))",
          "containerd/v1.7.20", "skopeo/1.15", "curl/8.5.0"]
# 50 clients, each a machine with its own user agent: 20 CI runners (logged in as ci-bot), 25 developers' machines
# (each its user's, sometimes anonymous), 5 anonymous servers.
CLIENTS = [(f"10.0.{n // 10}.{n % 10 + 1}", AGENTS[n % len(AGENTS)],
            "ci-bot" if n < 20 else f"user{n - 20}" if n < 45 else "") for n in range(50)]
ACTORS = sorted({actor for _, _, actor in CLIENTS})
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
BASE = ("library/base", "1")  # the base image every team pulls: the most pulled digest
COLUMNS = ("event_id", "source", "time_ns", "action", "repository", "tag", "digest", "media_type", "target_kind",
           "size", "from_repository", "request_addr", "request_method", "request_useragent", "request_host", "actor",
           "source_addr", "source_instance")
TABLE = "archviz_registry_event"


def manifest_digest(repository: str, tag: str, version: int) -> str:
    return "sha256:" + hashlib.sha256(f"{repository}:{tag}:{version}".encode()).hexdigest()


def events(count: int, end_ns: int, seed: int = 7) -> Iterator[tuple[object, ...]]:
    """`count` events in time order over the 30 days before `end_ns`, as rows of COLUMNS."""
    rng = random.Random(seed)
    version = {(repository, tag): 0 for repository in REPOSITORIES for tag in TAGS}
    for number in range(count):
        time_ns = end_ns - SPAN_NS + number * (SPAN_NS // count)
        action = rng.choices(("pull", "push", "mount", "delete"), (80, 15, 4, 1))[0]
        repository, tag = rng.choice(REPOSITORIES), rng.choice(TAGS)
        manifest = rng.random() < 0.25
        method = {"pull": "GET", "push": "PUT", "mount": "POST", "delete": "DELETE"}[action]
        kind, shown_tag, media_type = "blob", "", "application/octet-stream"
        digest = f"sha256:{rng.getrandbits(256):064x}"
        if manifest and action in ("pull", "push", "delete"):
            kind, media_type = "manifest", MANIFEST
            if action == "push":
                version[repository, tag] += 1
                shown_tag = tag
            elif action == "pull" and rng.random() < 0.1:
                repository, tag = BASE
            if action == "pull" and rng.random() < 0.4:
                method, shown_tag = "HEAD", tag  # a client resolving a tag: an existence check
            digest = manifest_digest(repository, tag, version.get((repository, tag), 0))
            if action == "delete" and rng.random() < 0.5:
                kind, shown_tag, digest, media_type = "tag", tag, "", ""  # distribution 3's tag delete
        elif action == "pull" and rng.random() < 0.3:
            method = "HEAD"
        addr, agent, actor = rng.choice(CLIENTS)
        if actor.startswith("user") and rng.random() < 0.1:
            actor = ""  # a developer not logged in
        yield (f"ev-{number}", "registry", time_ns, action, repository, shown_tag, digest, media_type, kind,
               rng.randint(500, 50_000_000), "", addr, method, agent, "registry.local:5000", actor, "registry:5000",
               "instance-1")


def fill(database: Path, count: int, end_ns: int) -> float:
    """Bulk-load `count` events into a migrated store; the seconds it took. The table's indexes are made again
    after the rows are in (one sorted build each, instead of a million random inserts into each)."""
    started = time.perf_counter()
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA synchronous=OFF")
        indexes = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                     "AND sql IS NOT NULL", (TABLE,)).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        connection.executemany(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                               events(count, end_ns))
        for _, sql in indexes:
            connection.execute(sql)
        connection.execute("ANALYZE")
    return time.perf_counter() - started


