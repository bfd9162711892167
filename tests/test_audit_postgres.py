"""The audit's reports on PostgreSQL, as an operator scales out: what its indexes hold must never refuse an event
(a B-tree entry there holds at most 2,704 bytes, and a registry retries a refused event forever)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import webhook_dashboard
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
