"""Typed readers for settings that come from the environment.

Each reader returns the embedded default when the variable is unset or empty, and raises
ImproperlyConfigured naming the variable and the accepted values when it holds junk, so a typo
stops the process at start-up instead of surfacing as odd behaviour later.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from archviz.docker_hosts import DockerHost, parse_hosts
from archviz.proxies import Network, trusted_proxies

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def env_str(name: str, default: str) -> str:
    return _raw(name) or default


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off.")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ImproperlyConfigured(f"{name}={number} is out of range: it must be {bounds}.")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value.upper() not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}.")
    return value.upper()


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_docker_hosts(name: str) -> list[DockerHost]:
    """Comma-separated Docker addresses, each with its own TLS settings (archviz.docker_hosts says how)."""
    try:
        return parse_hosts(env_list(name, []))
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}.") from None


def env_trusted_proxies(name: str) -> tuple[Network, ...]:
    """Comma-separated addresses and networks of reverse proxies (archviz.proxies says what is believed of them)."""
    try:
        return trusted_proxies(env_list(name, []))
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}.") from None


def env_secret(name: str) -> str | None:
    """Read a secret from NAME, or from the file named by NAME_FILE (for container secrets)."""
    path = _raw(f"{name}_FILE")
    if path is not None:
        try:
            return Path(path).read_text().strip() or None
        except OSError as error:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {error.strerror}.") from None
    return _raw(name)


def database_from_url(url: str) -> dict[str, object]:
    """Turn DATABASE_URL (postgres://user:password@host:port/name or sqlite:///path) into a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL names no database: add it after the host, as in …:5432/archviz.")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("DATABASE_URL has a port that is not a number.") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if not path or path == "/":
            raise ImproperlyConfigured("DATABASE_URL sqlite:/// needs a file path, as in sqlite:////var/lib/archviz/db.sqlite3.")
        return sqlite_database(Path(path))
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported: use postgres://… or sqlite:///…."
    )


# channels_redis blocks up to this long (its `brpop_timeout`) in each receive. redis-py 8 reads with a 5 s socket
# timeout by default, which cuts that blocking pop off: every idle websocket was closed with 1011 after ~5 s
# ("Timeout reading from …", channels_redis issue #422). A read must be allowed to outlast the pop.
REDIS_BLOCKING_POP = 5
REDIS_SOCKET_TIMEOUT = REDIS_BLOCKING_POP + 10
REDIS_CONNECT_TIMEOUT = 5
# redis-py 8 refuses a command when 100 of a pool's connections are busy (MaxConnectionsError) rather than waiting:
# 100 pages connecting to one web process at once (each joining its group) broke at the 101st (bench/scaleout.py).
REDIS_MAX_CONNECTIONS = 1000


def channel_layer(redis_url: str) -> dict[str, object]:
    """The CHANNEL_LAYERS entry: channels_redis at REDIS_URL, or the in-memory layer when there is none."""
    if not redis_url:
        return {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    if urlsplit(redis_url).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL={redis_url!r} is not a Redis URL: use redis://host:6379/0.")
    host = {"address": redis_url, "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "max_connections": REDIS_MAX_CONNECTIONS}
    return {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}


def cache(redis_url: str) -> dict[str, object]:
    """The CACHES entry: Redis at REDIS_URL (shared by every process), or this process's memory when there is none.
    A read or write gives up after a few seconds, so a page that uses the cache says Redis is down instead of
    hanging."""
    if not redis_url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": "archviz",
            "OPTIONS": {"socket_timeout": REDIS_CONNECT_TIMEOUT, "socket_connect_timeout": REDIS_CONNECT_TIMEOUT}}


def sqlite_database(path: Path) -> dict[str, object]:
    # WAL with synchronous=NORMAL: readers never block the watcher's writes, and a commit needs no
    # fsync. Connections are kept (CONN_MAX_AGE None): opening one per batch cost milliseconds of
    # event-to-browser latency. A checkpoint (which does fsync) every 10,000 WAL pages (40 MB) instead of
    # SQLite's 1,000: each copies a hot index page once however often it changed, and the registry webhook's
    # one-event transactions rewrite the same index pages all the time (on a busy disk, 2.1 ms per event
    # became 0.6 ms).
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "CONN_MAX_AGE": None,
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": path.with_name(f"test-{path.name}")},
    }
