"""The architecture map in Debian's Chromium at a projector's 1280×720, against `serve` with the API tap, watching
the lab: the parts of Docker's architecture as boxes with the daemon's own counts, and a pull through the tap with
the real docker CLI lighting the client→daemon and daemon→registry edges and filling the images box."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.test_causal_diagram_lab import tapped_dashboard  # noqa: F401 - the fixture
from tests.test_pulls_lab import build_and_push
from tests.test_tap import docker

pytestmark = [pytest.mark.lab, pytest.mark.browser]
IMAGES, CONTAINERS = "[data-box^='images:']", "[data-box^='containers:']"


def daemon_counts(lab: Lab) -> set[tuple[int, int]]:
    """What the daemon holds, as the docker CLI counts it (distinct images, for `docker images -q` lists one row per
    tag; `docker ps -aq` for containers) and as the SDK does: one pair when they agree."""
    images = set(docker(lab.docker_host, "images", "-q", "--no-trunc").stdout.split())
    containers = docker(lab.docker_host, "ps", "-aq").stdout.split()
    client = lab.client()
    try:
        return {(len(images), len(containers)), (len(client.api.images()), len(client.api.containers(all=True)))}
    finally:
        client.close()


def shown_counts(page) -> tuple[int, int]:  # noqa: ANN001 - a Playwright page
    return (int(page.get_attribute(IMAGES, "data-count")), int(page.get_attribute(CONTAINERS, "data-count")))


def test_the_map_shows_the_daemons_counts_and_lights_a_pull_made_through_the_tap(
        chromium, lab: Lab, webhook_port: int, tapped_dashboard: str, tmp_path: Path) -> None:  # noqa: F811
    reference = build_and_push(lab, f"map/app{uuid.uuid4().hex[:6]}",
                               "FROM {base}\nRUN echo one > /one\nRUN echo two > /two\n")
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"http://127.0.0.1:{webhook_port}/map/")
    page.wait_for_selector("#link-state[data-state=live]")
    page.wait_for_selector(".map-box[data-role=daemon]")
    assert page.locator(".map-hint[data-column=daemon]").is_hidden()

    pull = subprocess.Popen(["docker", "pull", reference], env={**os.environ, "DOCKER_HOST": tapped_dashboard},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    page.wait_for_selector(".map-edge[data-kind=client-daemon].lit", timeout=15_000)
    page.wait_for_selector(".map-edge[data-kind=daemon-registry].lit", timeout=15_000)
    page.screenshot(path=tmp_path / "map-1280x720.png")
    assert pull.wait(timeout=60) == 0, pull.stderr.read() if pull.stderr else ""

    pulled = page.wait_for_selector(f".map-pull[data-reference='{reference}'][data-status=done]", timeout=5_000)
    assert pulled.eval_on_selector_all(".pull-cell", "cells => cells.length") == 3  # the base's layer and two RUNs
    client_daemon = page.locator(".map-edge[data-kind=client-daemon]")
    assert int(client_daemon.get_attribute("data-lit-count")) >= 3
    assert page.locator(".map-box[data-role=client]", has_text="Docker-Client").count() == 1
    assert int(page.locator(".map-edge[data-kind=daemon-registry]").first.get_attribute("data-lit-count")) >= 2
    for role in ("daemon", "runtime", "registry"):
        assert page.locator(f".map-box[data-role={role}]").count() >= 1, role

    deadline = time.monotonic() + 10
    while {shown := shown_counts(page)} != (expected := daemon_counts(lab)) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert {shown} == expected

    page.locator(IMAGES).click()
    detail = page.locator("#map-detail")
    assert detail.is_visible()
    assert "read-only template" in detail.inner_text() and reference in detail.inner_text()
    page.keyboard.press("Escape")
    assert detail.is_hidden()
    page.close()
