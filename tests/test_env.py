from __future__ import annotations

from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured

from dashboard.env import (
    REDIS_BLOCKING_POP,
    cache,
    channel_layer,
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
)


def test_unset_variables_give_the_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_FLAG", raising=False)
    monkeypatch.setenv("X_NUMBER", "  ")
    assert env_bool("X_FLAG", True) is True
    assert env_int("X_NUMBER", 7) == 7
    assert env_list("X_FLAG", ["a"]) == ["a"]


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("Yes", True), ("on", True), ("0", False), ("OFF", False)])
def test_booleans_accept_the_usual_words(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


@pytest.mark.parametrize(
    ("reader", "raw", "message"),
    [
        (lambda: env_bool("X_VALUE", False), "maybe", "X_VALUE='maybe' is not a boolean"),
        (lambda: env_int("X_VALUE", 1), "12abc", "X_VALUE='12abc' is not a whole number"),
        (lambda: env_int("X_VALUE", 1, minimum=1, maximum=10), "0", "X_VALUE=0 is out of range"),
        (lambda: env_int("X_VALUE", 1, minimum=1, maximum=10), "99999999999999999999", "out of range"),
        (lambda: env_choice("X_VALUE", "INFO", ("INFO", "DEBUG")), "<script>", "is not one of INFO, DEBUG"),
    ],
)
def test_junk_values_stop_start_up_naming_the_variable(monkeypatch, reader, raw, message) -> None:  # noqa: ANN001
    monkeypatch.setenv("X_VALUE", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        reader()


def test_a_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "key").write_text("s3cret\n")
    monkeypatch.setenv("X_KEY_FILE", str(tmp_path / "key"))
    assert env_secret("X_KEY") == "s3cret"
    monkeypatch.setenv("X_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="X_KEY_FILE=.* cannot be read"):
        env_secret("X_KEY")


def test_a_postgres_url_becomes_a_database_entry() -> None:
    database = database_from_url("postgres://arch%40viz:p%3Ass@db.local:6543/archviz")
    assert database == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "archviz", "USER": "arch@viz",
        "PASSWORD": "p:ss", "HOST": "db.local", "PORT": "6543",
        "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True,
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/archviz", "scheme 'mysql' is not supported"),
        ("postgres://db.local:5432/", "names no database"),
        ("postgres://db.local:port/archviz", "port that is not a number"),
        ("sqlite:///", "needs a file path"),
    ],
)
def test_broken_database_urls_say_what_to_write(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        database_from_url(url)


def test_without_redis_the_channel_layer_is_in_memory() -> None:
    assert channel_layer("") == {"BACKEND": "channels.layers.InMemoryChannelLayer"}


def test_a_redis_read_may_outlast_channels_redis_blocking_receive() -> None:
    (host,) = channel_layer("redis://127.0.0.1:6379/0")["CONFIG"]["hosts"]
    assert host["address"] == "redis://127.0.0.1:6379/0"
    assert host["socket_timeout"] > REDIS_BLOCKING_POP == RedisChannelLayer.brpop_timeout


def test_a_redis_url_that_is_not_one_says_what_to_write() -> None:
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL='localhost:6379' is not a Redis URL: use redis://"):
        channel_layer("localhost:6379")


def test_the_cache_is_redis_when_there_is_one_and_gives_up_on_it_quickly() -> None:
    assert cache("") == {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    shared = cache("redis://127.0.0.1:6379/0")
    assert (shared["BACKEND"], shared["LOCATION"]) == ("django.core.cache.backends.redis.RedisCache",
                                                       "redis://127.0.0.1:6379/0")
    assert shared["OPTIONS"]["socket_timeout"] <= 5 and shared["OPTIONS"]["socket_connect_timeout"] <= 5
