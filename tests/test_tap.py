"""The API tap: the real docker CLI through it against the lab, and peers that misbehave."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from archviz.lab import Lab
from archviz.models import StoredObservation
from archviz.sequence import IMAGE_NOT_FOUND, sequence
from archviz.sources.daemon import observation_from_event
from archviz.sources.tap import Exchange, observation_from_exchange, split_target
from archviz.tap.proxy import Tap
from archviz.tap.reading import NOT_HTTP
from tests.conftest import ROOT, dashboard_env, free_port, start_serve
from tests.lab_helpers import eventually
from tests.test_pulls_lab import build_and_push


def test_query_values_are_kept_only_where_they_cannot_hold_a_secret() -> None:
    version, path, query = split_target('/v1.41/build?t=app%3A1&buildargs={"TOKEN":"s3cret"}&registryconfig=abc')
    assert (version, path) == ("1.41", "/build")
    assert query == {"t": "app:1", "buildargs": "…", "registryconfig": "…"}
    assert split_target("/_ping") == ("", "/_ping", {})


def test_an_auth_failure_message_is_not_kept() -> None:
    exchange = Exchange(started_ns=1, method="POST", target="/v1.41/auth", status=401, reason="Unauthorized",
                        user_agent="Docker-Client/28", pid=7, connection=1, sequence=1, first_byte_ms=1.0,
                        error_message="login attempt for user bob with password hunter2 failed")
    observation = observation_from_exchange(exchange, "unix:///d.sock")
    assert "error" not in observation.attributes
    assert "hunter2" not in json.dumps(observation.attributes)




def test_a_container_path_is_listed_by_short_id_and_kept_whole_in_the_attributes() -> None:
    container = "5ef578d30b9a93f8ddbb3df1aea381df80c4e0b08b5bc107764c52f5fa9c5c1c"
    exchange = Exchange(started_ns=1, method="POST", target=f"/v1.41/containers/{container}/start", status=204,
                        reason="No Content", user_agent="Docker-Client/28", pid=7, connection=1, sequence=1,
                        first_byte_ms=1.0)
    observation = observation_from_exchange(exchange, "unix:///d.sock")
    assert observation.subject == "POST /containers/5ef578d30b9a/start"
    assert (observation.attributes["container"], observation.attributes["path"]) == (
        container, f"/containers/{container}/start")


def docker(address: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker")
    assert binary, "the docker CLI comes with Debian's docker.io"
    return subprocess.run([binary, *args], env={**os.environ, "DOCKER_HOST": address}, input=stdin,
                          capture_output=True, text=True, timeout=120)


def both(lab: Lab, tap: Tap, *args: str, stdin: str | None = None) -> tuple[subprocess.CompletedProcess[str], ...]:
    return docker(lab.docker_host, *args, stdin=stdin), docker(f"unix://{tap.listen}", *args, stdin=stdin)


@database_sync_to_async
def tapped() -> list[dict]:
    return [row.to_wire() for row in StoredObservation.objects.filter(source="tap").order_by("id")]


@database_sync_to_async
def calls() -> list[dict]:
    return [row.to_wire() for row in StoredObservation.objects.filter(kind="api-call").order_by("id")]


@database_sync_to_async
def layer_observations() -> list[dict]:
    return [row.to_wire() for row in StoredObservation.objects.filter(kind="api-pull-layer").order_by("id")]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_a_run_of_a_missing_image_through_the_tap_draws_the_seed_sequence(lab: Lab, tap: Tap) -> None:
    reference = await asyncio.to_thread(build_and_push, lab, f"tap/missing{uuid.uuid4().hex[:6]}",
                                        "FROM {base}\nRUN echo one > /one\n")
    started = time.time()
    result = await asyncio.to_thread(docker, f"unix://{tap.listen}", "run", "--rm", reference, "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n")
    assert "Unable to find image" in result.stderr

    async def all_nine() -> list[dict]:
        found = [c for c in await tapped()
                 if c["attributes"].get("path") != "/_ping" or c["attributes"]["method"] == "HEAD"]
        return found if sum(c["kind"] in ("api-call", "api-stream-end") for c in found) >= 10 else []

    seen = await eventually(all_nine, what="seven requests and three stream ends recorded")
    steps = [(c["attributes"]["method"], c["attributes"]["path"].split("/")[-1], c["attributes"]["status"])
             for c in seen if c["kind"] == "api-call"]
    assert steps == [("HEAD", "_ping", 200), ("POST", "create", 404), ("POST", "create", 200),
                     ("POST", "create", 201), ("POST", "attach", 101), ("POST", "wait", 200), ("POST", "start", 204)]
    calls_seen = [c for c in seen if c["kind"] == "api-call"]
    assert calls_seen[1]["attributes"]["error"].startswith("No such image")
    assert calls_seen[2]["attributes"]["query"]["fromImage"] == reference.rsplit(":", 1)[0]
    assert len({c["attributes"]["pid"] for c in seen if "pid" in c["attributes"]}) == 1
    # The daemon's own events of that minute, as the watcher would have stored them, drawn with the requests.
    client = lab.client()
    events = client.events(since=int(started) - 1, until=int(time.time()) + 1, decode=True)
    daemon = [StoredObservation.from_observation(observation_from_event(e, tap.host)).to_wire() for e in events
              if e.get("timeNano", 0) >= started * 1e9]
    client.close()
    merged = sorted(seen + daemon, key=lambda o: int(o["time_ns"]))
    for number, observation in enumerate(merged, 1):
        observation["id"] = number
    diagram = sequence(merged)
    labels = [m.label for m in diagram.messages if m.interaction]
    assert len({m.interaction for m in diagram.messages if m.interaction}) == 1, labels
    (pulled,) = [b for i in diagram.interactions.values() for b, label in i.blocks.items() if label == IMAGE_NOT_FOUND]
    in_alt = [m.label for m in diagram.messages if m.block == pulled]
    assert in_alt[0].startswith("pull ") and any(x.startswith("fetch layer ") for x in in_alt)
    expected = iter(("types `docker run --rm", "ping the daemon", "create container", "404 No such image", "pull ",
                     "fetch layer ", "pull progress ended", "create container", "201 Created", "attach to",
                     "101 switched", "wait for", "start ", "create and start task", "output closed", "exit 0"))
    step = next(expected)
    for label in labels:
        if label.startswith(step):
            step = next(expected, "")
    assert step == "", f"{step!r} missing or out of order in {labels}"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_any_clients_pull_gets_per_layer_arrows_read_off_its_progress(lab: Lab, tap: Tap) -> None:
    reference = await asyncio.to_thread(build_and_push, lab, f"tap/layers{uuid.uuid4().hex[:6]}",
                                        "FROM {base}\nRUN echo one > /one\nRUN echo two > /two\n")
    result = await asyncio.to_thread(docker, f"unix://{tap.listen}", "pull", reference)
    assert result.returncode == 0, result.stderr
    async def three_layers() -> list[dict]:
        found = await layer_observations()
        return found if len(found) >= 3 else []

    layers = await eventually(three_layers, what="the pull's three layers read off its progress")
    assert [o["attributes"]["message"] for o in layers] == ["Already exists", "Pull complete", "Pull complete"]
    assert {o["subject"] for o in layers} == {reference}
    assert {o["attributes"]["layers"] for o in layers} == {3}  # each says how many layers the pull has
    drawn = sequence([*await calls(), *layers])
    labels = [m.label for m in drawn.messages]
    assert sum(label.startswith("fetch layer ") for label in labels) == 2
    assert len(drawn.interactions) == 1  # the layers sit in the pull's box


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_output_exit_codes_stdin_exec_and_logs_are_the_same_through_the_tap(lab: Lab, tap: Tap) -> None:
    cases = [
        (("run", "--rm", lab.base_image, "sh", "-c", "echo out; echo err >&2; exit 3"), None),
        (("run", "-i", "--rm", lab.base_image, "cat"), "hello through stdin\n"),
    ]
    for args, stdin in cases:
        direct, tapped = await asyncio.to_thread(both, lab, tap, *args, stdin=stdin)
        assert (tapped.returncode, tapped.stdout) == (direct.returncode, direct.stdout)
    name = f"tap-{uuid.uuid4().hex[:6]}"
    assert (await asyncio.to_thread(docker, lab.docker_host, "run", "-d", "--name", name, lab.base_image, "sh",
                                    "-c", "echo one; echo two; sleep 1; echo three")).returncode == 0
    try:
        direct, tapped = await asyncio.to_thread(both, lab, tap, "exec", name, "echo", "from exec")
        assert (tapped.returncode, tapped.stdout) == (0, "from exec\n") == (direct.returncode, direct.stdout)
        tapped = await asyncio.to_thread(docker, f"unix://{tap.listen}", "logs", "-f", name)
        assert tapped.stdout == "one\ntwo\nthree\n"
    finally:
        await asyncio.to_thread(docker, lab.docker_host, "rm", "-f", name)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_garbage_and_clients_that_vanish_leave_the_tap_serving_others(lab: Lab, tap: Tap) -> None:
    reader, writer = await asyncio.open_unix_connection(str(tap.listen))
    writer.write(b"\x00\x01GARBAGE NOT HTTP\r\n\r\n")
    assert (await asyncio.wait_for(reader.read(100), 10)).startswith(b"HTTP/1.1 400")
    writer.close()

    async def garbage_recorded() -> list[dict]:
        return [c for c in await calls() if c["attributes"]["path"] == NOT_HTTP]

    (garbage,) = await eventually(garbage_recorded, what="the garbage and the daemon's answer recorded")
    assert (garbage["attributes"]["status"], garbage["attributes"]["request_bytes"]) == (400, 22)
    events = await asyncio.create_subprocess_exec(shutil.which("docker"), "events",
                                                  env={**os.environ, "DOCKER_HOST": f"unix://{tap.listen}"},
                                                  stdout=asyncio.subprocess.PIPE)
    await asyncio.sleep(0.5)
    events.kill()  # a client gone mid-stream
    await events.wait()
    result = await asyncio.to_thread(docker, f"unix://{tap.listen}", "version", "--format", "{{.Server.Version}}")
    assert result.returncode == 0 and result.stdout.strip()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_with_no_daemon_behind_it_the_tap_answers_502_and_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "docker.sock"
    holder = socket.socket(socket.AF_UNIX)
    holder.bind(str(missing))  # a socket file with nobody listening
    the_tap = Tap(tmp_path / "tap.sock", missing)
    server = await the_tap.start()
    reader, writer = await asyncio.open_unix_connection(str(the_tap.listen))
    writer.write(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(1000), 10)
    assert answer.startswith(b"HTTP/1.1 502") and b"cannot be reached" in answer
    writer.close()
    await the_tap.stop(server)
    holder.close()


@pytest.mark.lab
def test_serve_runs_the_tap_when_asked_and_its_requests_are_drawn(lab: Lab, tmp_path: Path) -> None:

    listen = Path(f"/tmp/avtap-{uuid.uuid4().hex[:8]}.sock")
    env = dashboard_env(tmp_path, lab.docker_host) | {"ARCHVIZ_TAP_SOCKET": f"unix://{listen}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = start_serve(port, env)
    try:
        for _ in range(100):
            if listen.exists():
                break
            time.sleep(0.05)
        result = docker(f"unix://{listen}", "version", "--format", "{{.Server.Version}}")
        assert result.returncode == 0 and result.stdout.strip()
        for _ in range(100):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sequence.mmd") as response:
                text = response.read().decode()
            if "ask the daemon's version" in text:
                break
            time.sleep(0.05)
        assert "ask the daemon's version" in text and "200 OK" in text and "docker version" in text
    finally:
        server.terminate()
        server.wait(timeout=15)
        listen.unlink(missing_ok=True)
