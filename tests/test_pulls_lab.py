"""Pulls from the dashboard against the lab: progress per layer in Chromium, cancelling, and no secret kept."""

from __future__ import annotations

import io
import logging
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archviz import actions
from archviz.lab import Lab
from tests.conftest import ROOT, Dashboard, dashboard_env, free_port, start_serve

pytestmark = pytest.mark.lab
STAFF_PASSWORD = "staff-pass-" + uuid.uuid4().hex[:6]


def build_and_push(lab: Lab, repository: str, dockerfile: str) -> str:
    """Build with the classic builder FROM the lab base, push to the lab registry, remove it locally."""
    client = lab.client(timeout=300)
    reference = f"{lab.registry_address}/{repository}:1"
    try:
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as archive:
            data = dockerfile.format(base=lab.base_image).encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        client.images.build(fileobj=io.BytesIO(context.getvalue()), custom_context=True, tag=reference,
                                       rm=True)
        for line in client.api.push(reference.rsplit(":", 1)[0], tag="1", stream=True, decode=True):
            assert "error" not in line, line
        client.images.remove(reference, force=True)
    finally:
        client.close()
    return reference


@pytest.fixture
def actions_dashboard(lab: Lab, tmp_path: Path) -> Iterator[Dashboard]:
    env = dashboard_env(tmp_path, lab.docker_host) | {"ARCHVIZ_ALLOW_ACTIONS": "1",
                                                      "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "staff",
                    "--email", "staff@example.org"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    dashboard = Dashboard(f"http://127.0.0.1:{port}", start_serve(port, env), tmp_path, port, env)
    yield dashboard
    dashboard.stop()


@pytest.mark.browser
def test_a_staff_user_pulls_a_multi_layer_image_and_every_layer_completes(chromium, actions_dashboard: Dashboard,
                                                                         lab: Lab) -> None:
    reference = build_and_push(lab, f"pulls/app{uuid.uuid4().hex[:6]}",
                               "FROM {base}\nRUN echo one > /one\nRUN echo two > /two\n")
    client = lab.client()
    # So that every layer travels, the base one too: nothing local may hold it (containers keep their image).
    client.containers.prune()
    for image in client.images.list(all=True):
        client.images.remove(image.id, force=True)
    client.close()
    try:
        viewer = chromium.new_page()
        viewer.goto(f"{actions_dashboard.url}/inventory/")
        assert "log in as a staff user" in viewer.inner_text(".pulls")
        assert viewer.locator("#pull-form").count() == 0

        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{actions_dashboard.url}/login/?next=/inventory/")
        page.fill("#id_username", "staff")
        page.fill("#id_password", STAFF_PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#link-state[data-state=live]")
        page.fill("input[name=reference]", reference)
        page.click("#pull-form button[type=submit]")
        done = page.wait_for_selector(".pull[data-status=done]", timeout=60_000)
        stages = [item.get_attribute("data-stage") for item in done.query_selector_all(".pull-layers li")]
        assert stages == ["Pull complete"] * 3
        assert page.locator(".pull[data-status=done] progress.overall").evaluate("(bar) => bar.value") == 1
        # Every viewer saw it, not only the one who started it.
        viewer.wait_for_selector(".pull[data-status=done]")
        assert viewer.locator(".pull[data-status=done] .cancel").count() == 0
        page.wait_for_selector(f".inventory-table[data-kind=image] td:text-is('{reference}')")
    finally:
        client = lab.client()
        client.images.pull(lab.base_image)  # other tests run containers from it
        client.close()


@pytest.mark.django_db(transaction=True)
def test_a_pull_cancelled_half_way_says_so_and_leaves_no_image(lab: Lab) -> None:
    reference = build_and_push(lab, f"pulls/big{uuid.uuid4().hex[:6]}",
                               "FROM {base}\nRUN dd if=/dev/urandom of=/big bs=1048576 count=300\n")
    repository, tag = reference.rsplit(":", 1)
    job = actions.create_pull(lab.docker_host, repository, tag, "tester")
    runner = threading.Thread(target=actions.run_pull, args=(job, None))
    runner.start()
    deadline = time.monotonic() + 60
    while not any(layer.stage == "Downloading" and layer.current > 0 for layer in job.state.layers):
        assert time.monotonic() < deadline and runner.is_alive(), job.state
        time.sleep(0.005)
    assert actions.cancel(job.id)
    runner.join(timeout=60)
    assert job.state.status == "cancelled" and "Cancelled" in job.state.message
    assert job.state.fraction < 1
    client = lab.client()
    try:
        assert not [image for image in client.images.list() if reference in image.tags]
    finally:
        client.close()
    assert not actions.cancel(job.id)  # it is over


@pytest.mark.django_db(transaction=True)
def test_registry_credentials_are_used_once_and_found_nowhere_after(lab: Lab, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    secret = "pw-" + uuid.uuid4().hex
    caplog.set_level(logging.DEBUG)
    reference = f"{lab.base_image}"
    repository, tag = reference.rsplit(":", 1)
    job = actions.create_pull(lab.docker_host, repository, tag, "tester")
    actions.run_pull(job, {"username": "someone", "password": secret})
    assert job.state.status == "done"
    assert secret not in repr(job) and secret not in str(job.to_wire()) and secret not in caplog.text
    from django.db import connection

    database = Path(connection.settings_dict["NAME"])
    dump = "\n".join(sqlite3.connect(database).iterdump())
    assert "action-pull-done" in dump and secret not in dump
