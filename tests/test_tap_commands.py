"""The docker CLI's commands through the tap give what they give directly, and the tap reads what they did:
pull, push, a classic build, save | load, events, and BuildKit's h2c session passed through both ways."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async

from archviz.lab import Lab
from archviz.models import StoredObservation
from archviz.sequence import sequence
from archviz.tap.proxy import Tap
from tests.lab_helpers import eventually
from tests.test_pulls_lab import build_and_push
from tests.test_tap import both, docker

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.lab]


@database_sync_to_async
def observed(*kinds: str) -> list[dict]:
    return [row.to_wire() for row in StoredObservation.objects.filter(kind__in=kinds).order_by("id")]


async def recorded(what: str, check: Callable[[list[dict]], bool], *kinds: str) -> list[dict]:
    async def found() -> list[dict]:
        rows = await observed(*kinds)
        return rows if check(rows) else []

    return await eventually(found, what=what)


def lasting(output: str) -> list[str]:
    """What a pull's output always says: where from, each layer's outcome, digest, status and reference; the
    passing stages (Waiting, Verifying Checksum, Download complete) come or not with timing. Sorted, since
    layers are fetched side by side and their lines interleave differently from one pull to the next."""
    return sorted(line for line in output.splitlines()
                  if line.endswith((": Already exists", ": Pull complete")) or ": Pulling from " in line
                  or line.startswith(("Digest: ", "Status: ")) or "/" in line and " " not in line)


async def test_a_pull_through_the_tap_prints_what_a_direct_pull_prints(lab: Lab, tap: Tap) -> None:
    reference = await asyncio.to_thread(build_and_push, lab, f"tap/pull{uuid.uuid4().hex[:6]}",
                                        "FROM {base}\nRUN echo one > /one\n")
    direct = await asyncio.to_thread(docker, lab.docker_host, "pull", reference)
    assert (await asyncio.to_thread(docker, lab.docker_host, "rmi", reference)).returncode == 0
    tapped = await asyncio.to_thread(docker, f"unix://{tap.listen}", "pull", reference)
    assert (tapped.returncode, lasting(tapped.stdout)) == (0, lasting(direct.stdout)), (tapped, direct)
    assert any(line.endswith(": Pull complete") for line in lasting(tapped.stdout))
    ends = await recorded("the pull's stream end", lambda rows: any(r["subject"].endswith("/images/create")
                                                                    for r in rows), "api-stream-end")
    end = next(r for r in ends if r["subject"].endswith("/images/create"))["attributes"]
    assert end["ending"] == "complete" and end["response_bytes"] > 0


async def test_a_push_through_the_tap_draws_each_layer_going_to_the_registry(lab: Lab, tap: Tap) -> None:
    repository = f"{lab.registry_address}/tap/push{uuid.uuid4().hex[:6]}"
    build = await asyncio.to_thread(docker, lab.docker_host, "build", "-q", "-t", f"{repository}:1", "-",
                                    stdin=f"FROM {lab.base_image}\nRUN echo {uuid.uuid4().hex} > /fresh\n")
    assert build.returncode == 0, build.stderr
    tapped = await asyncio.to_thread(docker, f"unix://{tap.listen}", "push", f"{repository}:1")
    direct = await asyncio.to_thread(docker, lab.docker_host, "push", f"{repository}:1")
    assert tapped.returncode == direct.returncode == 0
    # The second push finds every layer there already; both end with the same digest line.
    assert tapped.stdout.splitlines()[-1] == direct.stdout.splitlines()[-1]
    assert "digest: sha256:" in tapped.stdout
    layers = await recorded("both layers of the push", lambda rows: len(rows) >= 2, "api-push-layer")
    # The new layer is sent; the base layer is in the registry already, in this repository or another one.
    messages = sorted(r["attributes"]["message"] for r in layers)
    assert messages[-1] == "Pushed" and messages[0].startswith(("Layer already exists", "Mounted from "))
    drawn = sequence([*await observed("api-call"), *layers])
    labels = [m.label for m in drawn.messages]
    assert any(label.startswith("push layer ") for label in labels)
    assert any(label.startswith(("does layer ", "mount layer ")) for label in labels)


async def test_a_classic_build_through_the_tap_gives_the_same_steps_and_exit_codes(lab: Lab, tap: Tap) -> None:
    dockerfile = f"FROM {lab.base_image}\nRUN echo {uuid.uuid4().hex} > /built\nCMD [\"cat\", \"/built\"]\n"
    tag = f"tap/built{uuid.uuid4().hex[:6]}:1"
    tapped = await asyncio.to_thread(docker, f"unix://{tap.listen}", "build", "-t", tag, "-", stdin=dockerfile)
    direct = await asyncio.to_thread(docker, lab.docker_host, "build", "-t", tag, "-", stdin=dockerfile)
    assert tapped.returncode == direct.returncode == 0, tapped.stderr
    steps = [line for line in tapped.stdout.splitlines() if line.startswith("Step ")]
    assert steps == [line for line in direct.stdout.splitlines() if line.startswith("Step ")]
    assert len(steps) == 3
    failing = f"FROM {lab.base_image}\nRUN echo {uuid.uuid4().hex} && exit 7\n"
    tapped_failure, direct_failure = await asyncio.to_thread(both, lab, tap, "build", "-", stdin=failing)
    assert tapped_failure.returncode == direct_failure.returncode != 0
    assert "returned a non-zero code: 7" in tapped_failure.stderr + tapped_failure.stdout
    rows = await recorded("the build's steps and failure",
                          lambda rows: any(r["attributes"].get("error") for r in rows), "api-build-step")
    assert [r["subject"] for r in rows] == ["step 1/3", "step 2/3", "step 3/3", "step 1/2", "step 2/2", "failed"]
    assert rows[1]["attributes"]["instruction"].startswith("RUN echo ")
    await asyncio.to_thread(docker, lab.docker_host, "rmi", tag)


async def test_save_piped_into_load_and_a_bounded_events_read_are_the_same_through_the_tap(lab: Lab,
                                                                                          tap: Tap) -> None:
    def save_and_load(address: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_HOST": address}
        return subprocess.run(f"docker save {lab.base_image} | docker load", shell=True, env=env,
                              capture_output=True, text=True, timeout=120)

    direct, tapped = save_and_load(lab.docker_host), await asyncio.to_thread(save_and_load, f"unix://{tap.listen}")
    assert (tapped.returncode, tapped.stdout) == (0, direct.stdout) == (0, f"Loaded image: {lab.base_image}\n")
    since = str(time.time() - 1)
    name = f"tap-events-{uuid.uuid4().hex[:6]}"
    assert (await asyncio.to_thread(docker, lab.docker_host, "run", "--rm", "--name", name, lab.base_image,
                                    "true")).returncode == 0
    until = str(time.time() + 0.5)
    await asyncio.sleep(0.6)
    args = ("events", "--since", since, "--until", until, "--filter", f"container={name}",
            "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    direct_events, tapped_events = await asyncio.to_thread(both, lab, tap, *args)
    assert tapped_events.returncode == 0
    assert tapped_events.stdout == direct_events.stdout
    assert tapped_events.stdout.splitlines()[:2] == [f"create {name}", f"attach {name}"]
    ends = await recorded("the save and the events streams ending",
                          lambda rows: {"GET /images/get", "GET /events"} <= {r["subject"] for r in rows},
                          "api-stream-end")
    saved = next(r for r in ends if r["subject"] == "GET /images/get")["attributes"]
    assert saved["ending"] == "complete" and saved["response_bytes"] > 1_000_000


async def test_a_buildkit_session_upgrade_to_h2c_passes_through_both_ways(lab: Lab, tap: Tap) -> None:
    async def session(path: str) -> tuple[bytes, bytes]:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"POST /v1.41/session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
                     b"X-Docker-Expose-Session-Uuid: " + uuid.uuid4().hex.encode() + b"\r\n"
                     b"X-Docker-Expose-Session-Name: archviz\r\nX-Docker-Expose-Session-Sharedkey: k\r\n"
                     b"Content-Length: 0\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        # The daemon is the HTTP/2 client of a session: its preface and SETTINGS come first; answering with our
        # SETTINGS and an ACK of its own gets its ACK of ours back.
        preface = await asyncio.wait_for(reader.readexactly(24 + 9), 10)
        writer.write(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")
        answer = await asyncio.wait_for(reader.readexactly(9), 10)
        writer.close()
        return head, preface + answer

    direct = await session(str(lab.socket))
    tapped = await session(str(tap.listen))
    assert tapped == direct
    assert tapped[0].startswith(b"HTTP/1.1 101") and tapped[1].startswith(b"PRI * HTTP/2.0")
    assert tapped[1].endswith(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")  # SETTINGS ACK
    calls = await recorded("the session's upgrade", lambda rows: any(r["subject"] == "POST /session"
                                                                      for r in rows), "api-call")
    assert next(r for r in calls if r["subject"] == "POST /session")["attributes"]["upgraded"] is True

