"""Whether this web process can do its job (`GET /readyz`): its database answers, its channel layer answers, and
every daemon a watcher reports on is reachable. Each check says, in a few words, what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio
from django.conf import settings
from django.db import DatabaseError, connection

from archviz.kinds import WATCHER_CONNECTED
from archviz.snapshot import watcher_states

# A check waits at most this long for an answer: a probe must not hang on a part that hangs.
TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return Check("database", False, f"the database does not answer: {str(error).strip()[:200]}")
    return Check("database", True, connection.vendor)


async def channel_layer(config: dict[str, Any] | None = None) -> Check:
    """Redis answers a PING (the in-memory layer is always there)."""
    config = config if config is not None else settings.CHANNEL_LAYERS["default"]
    if "InMemory" in config["BACKEND"]:
        return Check("channel layer", True, "in memory")
    for host in config["CONFIG"]["hosts"]:
        address = host["address"] if isinstance(host, dict) else str(host)
        where = urlsplit(address).netloc.rsplit("@", 1)[-1] or address  # never the password
        client = redis.asyncio.Redis.from_url(address, socket_timeout=TIMEOUT_SECONDS,
                                              socket_connect_timeout=TIMEOUT_SECONDS)
        try:
            await client.ping()
        except (redis.RedisError, OSError) as error:
            return Check("channel layer", False, f"Redis at {where} does not answer: {error}"[:300])
        finally:
            await client.aclose()
    return Check("channel layer", True, "redis")


def daemons() -> list[Check]:
    """Each daemon as its watcher last reported it (from the store, so every web process says the same)."""
    reports = watcher_states()
    if not reports:
        return [Check("daemon", False, "no watcher has reported on a daemon yet: run `manage.py watch` (or `serve` "
                                       "without --no-watch)")]
    return [Check(f"daemon {report['host']}", report["kind"] == WATCHER_CONNECTED,
                  str(report["attributes"].get("message", ""))) for report in reports]
