"""The live page in Debian's Chromium, against `manage.py serve` watching the lab."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from archviz.lab import Lab
from tests.conftest import Dashboard, dashboard_env, free_port, run_container, start_serve

pytestmark = [pytest.mark.lab, pytest.mark.browser]
STEPS = ("container-create", "container-start", "container-die", "container-destroy")


def rows_of(page, name: str) -> list[str]:  # noqa: ANN001 - a Playwright page
    return page.eval_on_selector_all(
        "#events tbody tr", "(rows, name) => rows.filter(r => r.children[2].firstChild.textContent === name)"
        ".map(r => r.dataset.kind)", name,
    )


def wait_for_steps(page, name: str, seconds: float) -> list[str]:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kinds = rows_of(page, name)
        if all(step in kinds for step in STEPS):
            return kinds
        page.wait_for_timeout(20)
    return rows_of(page, name)


def test_a_container_run_appears_on_the_page_within_two_seconds(chromium, dashboard: Dashboard, lab: Lab) -> None:
    page = chromium.new_page()
    page.goto(dashboard.url)
    page.wait_for_selector("#link-state[data-state=live]")
    name = f"page-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    run_container(lab, name, "exit 7")
    kinds = wait_for_steps(page, name, 2.0 - (time.monotonic() - started))
    assert sorted(step for step in kinds if step in STEPS) == sorted(STEPS)
    # Newest first: destroy sits above create.
    assert kinds.index("container-destroy") < kinds.index("container-create")
    die = page.locator("#events tbody tr[data-kind=container-die]", has_text=name)
    assert "exit code 7" in die.inner_text()
    page.close()


def test_the_page_reconnects_by_itself_after_the_server_restarts(chromium, dashboard: Dashboard, lab: Lab) -> None:
    page = chromium.new_page()
    page.goto(dashboard.url)
    page.wait_for_selector("#link-state[data-state=live]")
    dashboard.stop()
    page.wait_for_selector("#link-state[data-state=reconnecting]")
    dashboard.start()
    page.wait_for_selector("#link-state[data-state=live]", timeout=15_000)
    name = f"again-{uuid.uuid4().hex[:6]}"
    run_container(lab, name)
    assert set(STEPS) <= set(wait_for_steps(page, name, 5.0))
    page.close()


def test_with_no_daemon_the_page_says_where_it_looked_and_how_to_fix_it(chromium, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    address = f"unix://{tmp_path}/no-docker-here.sock"
    env = dashboard_env(tmp_path, address)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = start_serve(port, env)
    try:
        page = chromium.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        status = page.wait_for_selector("#daemon-status[data-state=unreachable]")
        text = status.inner_text()
        assert f"No Docker daemon at {address}" in text
        assert "there is no socket at that path" in text
        assert "python manage.py lab up" in text
        assert "Retrying" in text
        assert page.locator("#empty").is_visible()
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
