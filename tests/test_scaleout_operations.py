"""Tried as an operator would: a web process on Redis says it is not ready while Redis is stopped, naming the channel
layer, and ready again once Redis is back; its metrics answer in Prometheus' text format all along."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import ROOT, Dashboard, dashboard_env, free_port, start_serve
from tests.scaleout_helpers import Redis

pytestmark = [pytest.mark.scaleout, pytest.mark.lab]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def readiness(url: str, status: int, timeout: float = 15) -> dict:
    """Wait until /readyz answers `status`; its body."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = get(f"{url}/readyz")
        if code == status:
            return json.loads(body)
        assert time.monotonic() < deadline, f"/readyz stayed {code}: {body}"
        time.sleep(0.2)


@pytest.fixture
def redis_dashboard(lab: Lab, redis: Redis, tmp_path: Path) -> Iterator[Dashboard]:
    env = dashboard_env(tmp_path, lab.docker_host) | {"REDIS_URL": redis.url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    dashboard = Dashboard(f"http://127.0.0.1:{port}", start_serve(port, env), tmp_path, port, env)
    try:
        yield dashboard
    finally:
        dashboard.stop()
        if redis.process is None or redis.process.poll() is not None:
            redis.start()


def test_readyz_turns_503_while_redis_is_stopped_and_200_when_it_is_back(redis_dashboard: Dashboard,
                                                                        redis: Redis) -> None:
    ready = readiness(redis_dashboard.url, 200)
    assert ready["checks"]["channel layer"] == {"ok": True, "detail": "redis"}
    assert [name for name in ready["checks"] if name.startswith("daemon ")]

    redis.stop()
    down = readiness(redis_dashboard.url, 503)
    assert down["not_ready"] == ["channel layer"]
    assert f"Redis at 127.0.0.1:{redis.port} does not answer" in down["checks"]["channel layer"]["detail"]
    code, text = get(f"{redis_dashboard.url}/metrics")
    assert code == 200 and "# TYPE archviz_publications_total counter" in text

    redis.start()
    readiness(redis_dashboard.url, 200)
    code, text = get(f"{redis_dashboard.url}/metrics")
    assert code == 200 and 'archviz_observations_ingested_total{source="watcher"}' in text


def test_while_redis_is_down_the_page_says_the_channel_layer_is_not_ready(chromium, redis_dashboard: Dashboard,
                                                                         redis: Redis) -> None:
    page = chromium.new_page()
    page.goto(redis_dashboard.url)
    page.wait_for_selector("#link-state[data-state=live]")
    redis.stop()
    link = page.locator("#link-state")
    link.filter(has_text="channel layer not ready").wait_for(timeout=20_000)
    assert "does not answer" in link.get_attribute("title")
    redis.start()
    page.wait_for_selector("#link-state[data-state=live]", timeout=20_000)
    assert link.text_content() == "● live"
    page.close()
