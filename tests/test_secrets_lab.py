"""A secret in a real `docker exec` against the lab never reaches what archviz stores or logs."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from archviz.lab import Lab
from tests.lab_helpers import RunningWatcher, eventually, stored

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.lab]


def exec_in_a_running_container(lab: Lab, name: str, command: list[str]) -> bytes:
    """Start NAME, run `command` in it with `docker exec`, remove it; what the command printed."""
    client = lab.client()
    container = client.containers.run(lab.base_image, ["sleep", "30"], name=name, detach=True, network_mode="none")
    try:
        return container.exec_run(command).output
    finally:
        container.remove(force=True)
        client.close()


async def test_a_password_in_an_exec_command_is_stored_masked(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "hunter2"
    name = f"mask-{uuid.uuid4().hex[:6]}"
    async with RunningWatcher(lab.docker_host):
        await eventually(lambda: stored(kind="watcher-connected"), what="the watcher connects")
        command = ["sh", "-c", f"echo PGPASSWORD={secret}"]
        output = await asyncio.to_thread(exec_in_a_running_container, lab, name, command)
        await eventually(lambda: stored(kind="container-destroy", subject=name), what="the container is removed")

    assert secret.encode() in output
    (exec_create,) = await stored(kind="container-exec-create", subject=name)
    assert exec_create.attributes["detail"] == "sh -c echo PGPASSWORD=***"
    rows = await stored()
    assert not [row for row in rows if secret in repr((row.to_wire(), row.key))]
    assert secret not in caplog.text
