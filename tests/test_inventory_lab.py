"""The inventory against the lab: what archviz stores matches the docker CLI and a fresh load."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import uuid

import pytest
from channels.db import database_sync_to_async

from archviz.inventory import load
from archviz.lab import Lab
from archviz.models import InventoryState
from archviz.snapshot import inventory_snapshot
from tests.lab_helpers import RunningWatcher, eventually

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.lab]


def cli(lab: Lab, *args: str, check: bool = True) -> str:
    """The real docker CLI against the lab."""
    docker = shutil.which("docker")
    assert docker, "the docker CLI comes with Debian's docker.io"
    result = subprocess.run([docker, *args], env={**os.environ, "DOCKER_HOST": lab.docker_host},
                            capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout


def cli_view(lab: Lab, prefix: str) -> dict:
    """What `docker ps -a`, `docker images` and `docker volume ls` say, for the names this test made."""
    containers = {}
    for line in cli(lab, "ps", "-a", "--no-trunc", "--format", "{{json .}}").splitlines():
        row = json.loads(line)
        if row["Names"].startswith(prefix):
            exited = row["Status"].startswith("Exited (")
            code = int(row["Status"].split("(")[1].split(")")[0]) if exited else None
            containers[row["Names"]] = (row["State"], code, row["Image"])
    tags = {line for line in cli(lab, "images", "--format", "{{.Repository}}:{{.Tag}}").splitlines()
            if line.startswith(prefix)}
    volumes = {line for line in cli(lab, "volume", "ls", "--format", "{{.Name}}").splitlines()
               if line.startswith(prefix)}
    return {"containers": containers, "tags": tags, "volumes": volumes}


def stored_view(host: dict, prefix: str) -> dict:
    return {
        "containers": {c["name"]: (c["state"], c["exit_code"], c["image"]) for c in host["containers"]
                       if c["name"].startswith(prefix)},
        "tags": {tag for image in host["images"] for tag in image["tags"] if tag.startswith(prefix)},
        "volumes": {v["name"] for v in host["volumes"] if v["name"].startswith(prefix)},
    }


@database_sync_to_async
def stored(lab: Lab) -> dict | None:
    return inventory_snapshot().get(lab.docker_host)


@database_sync_to_async
def revision(lab: Lab) -> int:
    state = InventoryState.objects.filter(host=lab.docker_host).first()
    return state.revision if state else 0


async def settled(lab: Lab, prefix: str) -> dict:
    """Wait until the stored inventory shows what the CLI shows; return the stored host inventory."""
    async def matches() -> dict | None:
        host = await stored(lab)
        if host and stored_view(host, prefix) == await asyncio.to_thread(cli_view, lab, prefix):
            return host
        return None

    return await eventually(matches, timeout=20, what="the inventory matches the docker CLI")


def fresh_load(lab: Lab) -> dict:
    client = lab.client()
    try:
        return load(client).to_wire()
    finally:
        client.close()


def without_revision(host: dict) -> dict:
    return {key: value for key, value in host.items() if key != "revision"}


async def test_the_inventory_follows_runs_stops_removals_tags_and_volumes(lab: Lab) -> None:
    prefix = f"inv{uuid.uuid4().hex[:6]}"
    async with RunningWatcher(lab.docker_host):
        await eventually(lambda: revision(lab), what="the first full load")
        steps = [
            ("run", "-d", "--name", f"{prefix}-web", lab.base_image, "sleep", "300"),
            ("run", "--name", f"{prefix}-fail", lab.base_image, "sh", "-c", "exit 4"),
            ("tag", lab.base_image, f"{prefix}/copy:2"),
            ("volume", "create", f"{prefix}-data"),
            ("run", "--name", f"{prefix}-user", "-v", f"{prefix}-data:/data", lab.base_image, "true"),
            ("stop", "-t", "1", f"{prefix}-web"),
            ("rm", f"{prefix}-fail"),
            ("rmi", f"{prefix}/copy:2"),
            ("tag", lab.base_image, f"{prefix}/copy:3"),
        ]
        for step in steps:
            await asyncio.to_thread(cli, lab, *step, check=step[0] != "run")
            host = await settled(lab, prefix)
        view = stored_view(host, prefix)
        assert view["containers"] == {
            f"{prefix}-web": ("exited", 137, lab.base_image),
            f"{prefix}-user": ("exited", 0, lab.base_image),
        }
        assert view["tags"] == {f"{prefix}/copy:3"} and view["volumes"] == {f"{prefix}-data"}
        volume = next(v for v in host["volumes"] if v["name"] == f"{prefix}-data")
        user = next(c for c in host["containers"] if c["name"] == f"{prefix}-user")
        assert volume["containers"] == [user["id"]]
        # Old state + every change since == a fresh load of the daemon.
        assert without_revision(host) == await asyncio.to_thread(fresh_load, lab)


async def test_after_the_daemon_restarts_the_inventory_is_right_again(lab: Lab) -> None:
    prefix = f"rst{uuid.uuid4().hex[:6]}"
    async with RunningWatcher(lab.docker_host):
        await eventually(lambda: revision(lab), what="the first full load")
        await asyncio.to_thread(cli, lab, "run", "-d", "--name", f"{prefix}-long", lab.base_image, "sleep", "300")
        await settled(lab, prefix)
        before = await revision(lab)
        await asyncio.to_thread(lab.stop_daemon, signal.SIGTERM)  # it stops its containers as it goes
        await asyncio.to_thread(lab.start_daemon)

        async def reloaded() -> dict | None:
            host = await stored(lab)
            return host if await revision(lab) > before and stored_view(host, prefix)["containers"] == {
                f"{prefix}-long": ("exited", 137, lab.base_image)} else None

        host = await eventually(reloaded, timeout=40, what="a reload after the restart")
        assert without_revision(host) == await asyncio.to_thread(fresh_load, lab)
