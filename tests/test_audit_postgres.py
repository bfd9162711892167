"""The audit's reports on PostgreSQL, as an operator scales out: what its indexes hold must never refuse an event
(a B-tree entry there holds at most 2,704 bytes, and a registry retries a refused event forever)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import webhook_dashboard
from tests.recorded import registry_v3_events
from tests.scaleout_helpers import Postgres

pytestmark = pytest.mark.scaleout
TOKEN = "audit-postgres-token"
DIGEST = "sha256:" + "d" * 64


def call(url: str, body: bytes | None = None) -> dict:
    request = urllib.request.Request(url, data=body, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/vnd.docker.distribution.events.v2+json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_a_pull_with_the_longest_multi_byte_names_is_stored_and_reported(postgres: Postgres, tmp_path: Path) -> None:
    # Characters that do not compress: 1,024 of three bytes each for the user agent, 255 of four for the actor.
    agent = "".join(chr(0x4E00 + number * 7919 % 20000) for number in range(1024))
    actor = "".join(chr(0x1F300 + number * 37 % 700) for number in range(255))
    event = {"id": "long-names", "timestamp": "2026-11-20T10:00:00Z", "action": "pull",
             "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "repository": "lab/app",
                        "digest": DIGEST, "tag": "1"},
             "request": {"addr": "[2001:db8::1]:5000", "method": "GET", "useragent": agent},
             "actor": {"name": actor}}
    with webhook_dashboard(tmp_path, TOKEN, {"DATABASE_URL": postgres.new_database()}) as url:
        assert call(f"{url}/hooks/registry/", json.dumps({"events": [event]}).encode())["stored"] == 1
        (pull,) = call(f"{url}/api/registry/reports/pulls/?digest={DIGEST}")["pulls"]
        assert (pull["useragent"], pull["actor"], pull["addr"], pull["pulls"]) == (agent, actor, "2001:db8::1", 1)
        (repository,) = call(f"{url}/api/registry/reports/repositories/")["repositories"]
        assert (repository["repository"], repository["pull"], repository["actors"]) == ("lab/app", 1, 1)


def test_a_registry_delivering_one_event_at_a_time_gets_one_observation_per_event(
        postgres: Postgres, tmp_path: Path) -> None:
    # Each event, delivered twice, is observed exactly once, in the order delivered.
    events = registry_v3_events()
    with webhook_dashboard(tmp_path, TOKEN, {"DATABASE_URL": postgres.new_database()}) as url:
        for event in events:
            for _ in range(2):
                call(f"{url}/hooks/registry/", json.dumps({"events": [event]}).encode())
        deadline = time.monotonic() + 10
        while observation(url, len(events)) is None:
            assert time.monotonic() < deadline, "the events' Observations were never made"
            time.sleep(0.1)
        observed = [observation(url, number) for number in range(1, len(events) + 1)]
        time.sleep(0.5)
        assert observation(url, len(events) + 1) is None
    assert [o["attributes"]["event"] for o in observed] == [event["id"] for event in events]


def observation(url: str, number: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/api/observations/{number}", timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise
