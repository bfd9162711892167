"""Peers that misbehave through the tap: a daemon restarted under a stream, a client gone mid-stream, a 1 GB
request body. The tap stays up, other connections go on, and the Observations say what happened."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tarfile
import time
import uuid

import pytest
from channels.db import database_sync_to_async

from archviz.lab import Lab
from archviz.models import StoredObservation
from archviz.tap.proxy import Tap
from tests.lab_helpers import eventually
from tests.test_tap import docker

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.lab]
GIB = 1 << 30


@database_sync_to_async
def observed(kind: str, subject: str) -> list[dict]:
    return [row.to_wire() for row in StoredObservation.objects.filter(kind=kind, subject=subject).order_by("id")]


async def the(kind: str, subject: str, what: str) -> dict:
    async def found() -> list[dict]:
        return await observed(kind, subject)

    return (await eventually(found, timeout=30, what=what))[-1]["attributes"]


async def events_through(tap: Tap) -> asyncio.subprocess.Process:
    events = await asyncio.create_subprocess_exec(shutil.which("docker") or "docker", "events",
                                                  env={**os.environ, "DOCKER_HOST": f"unix://{tap.listen}"},
                                                  stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    await the("api-call", "GET /events", "the events stream started")
    return events


async def test_a_daemon_killed_under_a_stream_is_recorded_and_the_tap_serves_the_restarted_one(lab: Lab,
                                                                                               tap: Tap) -> None:
    events = await events_through(tap)
    try:
        await asyncio.to_thread(lab.stop_daemon, signal.SIGKILL)
        assert await asyncio.wait_for(events.wait(), 30) != 0  # the CLI says the daemon went away
        end = await the("api-stream-end", "GET /events", "the stream's end")
        assert end["ending"] == "daemon-gone"
    finally:
        if events.returncode is None:
            events.kill()
        await asyncio.to_thread(lab.start_daemon)
    result = await asyncio.to_thread(docker, f"unix://{tap.listen}", "run", "--rm", lab.base_image, "echo", "back")
    assert (result.returncode, result.stdout) == (0, "back\n")


async def test_a_client_gone_mid_stream_is_recorded_as_gone(lab: Lab, tap: Tap) -> None:
    events = await events_through(tap)
    events.kill()
    await events.wait()
    end = await the("api-stream-end", "GET /events", "the stream's end")
    assert end["ending"] == "client-gone" and end["duration_ms"] > 0
    result = await asyncio.to_thread(docker, f"unix://{tap.listen}", "version", "--format", "{{.Server.Version}}")
    assert result.returncode == 0 and result.stdout.strip()


async def test_a_one_gigabyte_request_body_passes_while_other_clients_go_on(lab: Lab, tap: Tap) -> None:
    # A docker load of an archive holding one 1 GB file and no manifest: the daemon reads all of it, then refuses.
    info = tarfile.TarInfo("big")
    info.size = GIB - 512 - 1024
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    piece = bytes(1024 * 1024)

    async def upload() -> bytes:
        reader, writer = await asyncio.open_unix_connection(str(tap.listen))
        writer.write(b"POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: archviz-test/1\r\n"
                     b"Content-Type: application/x-tar\r\n" + f"Content-Length: {GIB}\r\n\r\n".encode() + header)
        remaining = GIB - len(header)
        while remaining:
            writer.write(piece[:min(len(piece), remaining)])
            remaining -= min(len(piece), remaining)
            await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n0\r\n\r\n"), 120)  # the whole chunked answer
        writer.close()
        return answer

    started = time.monotonic()
    uploading = asyncio.create_task(upload())
    await asyncio.sleep(1)
    assert not uploading.done()
    during = await asyncio.to_thread(docker, f"unix://{tap.listen}", "run", "--rm", lab.base_image, "echo", "meanwhile")
    assert (during.returncode, during.stdout) == (0, "meanwhile\n")
    answer = await uploading
    assert answer.startswith(b"HTTP/1.1 ")
    load = await the("api-stream-end", "POST /images/load", "the load's record")
    assert answer.startswith(b"HTTP/1.1 200 ") and b"no such file" in answer
    assert (load["status"], load["ending"], load["request_bytes"] >= GIB) == (200, "complete", True)
    assert "no such file or directory" in load["error"]
    assert time.monotonic() - started < 90


async def test_whatever_the_side_reading_trips_on_the_bytes_go_on(lab: Lab, tap: Tap, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    class Tripping:
        def feed(self, data: bytes) -> None:
            raise ValueError("a reading bug")

        def finish(self, ending: object) -> None:
            raise ValueError("a reading bug")

    monkeypatch.setattr("archviz.tap.proxy.decoder_for", lambda *args: Tripping())
    reference = f"{lab.registry_address}/tap/trip{uuid.uuid4().hex[:6]}:1"
    for step in (("tag", lab.base_image, reference), ("push", reference), ("rmi", reference)):
        assert (await asyncio.to_thread(docker, lab.docker_host, *step)).returncode == 0
    pulled = await asyncio.to_thread(docker, f"unix://{tap.listen}", "pull", reference)
    assert pulled.returncode == 0 and f"Downloaded newer image for {reference}" in pulled.stdout
    assert "the tap stopped reading connection" in caplog.text
