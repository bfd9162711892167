"""Credentials through the API tap: a `docker login` and a push to the lab's registry that asks for a login leave
the password nowhere archviz writes or sends: not in the database, the log, or a live page's websocket frames.

The docker CLI sends the password to the daemon in the body of `POST /auth`, then with every push and pull in
`X-Registry-Auth` (base64url of the JSON auth config); it keeps base64 of "user:password" in its config file.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.db import connection

from archviz.lab import Lab
from archviz.tap.proxy import Tap
from dashboard.asgi import application

ORIGIN = [(b"origin", b"http://127.0.0.1")]
FRAME_SECONDS = 15


def encoded_forms(secret: str) -> set[str]:
    """What any base64 text (standard or URL-safe) of a longer text holding `secret` contains, wherever the
    secret sits in it: for each of its three offsets modulo 3, the characters made of the secret's bytes alone."""
    forms: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret.encode()).decode()
        whole_groups = (offset + len(secret.encode())) // 3
        core = encoded[4 * (1 if offset else 0):4 * whole_groups]
        forms |= {core, core.replace("+", "-").replace("/", "_")}
    return forms


def test_each_form_docker_gives_a_password_holds_one_of_its_encoded_forms() -> None:
    password = "pw-" + uuid.uuid4().hex
    auth_config = json.dumps({"username": "archviz", "password": password, "serveraddress": "127.0.0.1:5001"},
                             separators=(",", ":"))
    sent = [
        base64.urlsafe_b64encode(auth_config.encode()).decode(),  # X-Registry-Auth
        base64.b64encode(f"archviz:{password}".encode()).decode(),  # the CLI's config file, Basic auth
        *(base64.b64encode(f"{'x' * offset}{password}".encode()).decode() for offset in range(3)),
    ]
    for text in sent:
        assert any(form in text for form in encoded_forms(password))


def docker(tap: Tap, config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real docker CLI through the tap, with its own config folder (where `login` keeps the credential)."""
    binary = shutil.which("docker")
    assert binary, "the docker CLI comes with Debian's docker.io"
    env = {**os.environ, "DOCKER_HOST": f"unix://{tap.listen}", "DOCKER_CONFIG": str(config)}
    return subprocess.run([binary, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


def api_calls(frames: list[str]) -> list[dict]:
    return [observation for frame in frames for observation in json.loads(frame).get("observations", [])
            if observation["kind"] == "api-call"]


def pushed(frames: list[str], repository: str) -> bool:
    return any(call["attributes"]["path"].endswith(f"{repository}/push") and call["attributes"]["status"] == 200
               for call in api_calls(frames))


def database_text() -> str:
    """The SQLite dump of the test database, and its files' raw bytes (which hold deleted rows too)."""
    name = Path(connection.settings_dict["NAME"])
    files = [path for path in (name, name.with_name(name.name + "-wal")) if path.exists()]
    with contextlib.closing(sqlite3.connect(name)) as database:
        dump = list(database.iterdump())
    return "\n".join([*dump, *(path.read_bytes().decode("latin-1") for path in files)])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_a_login_and_a_push_through_the_tap_leave_the_password_nowhere(
        lab: Lab, tap: Tap, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="archviz")  # the tap's own log, whatever ARCHVIZ_LOG_LEVEL says
    wrong = "wrong-" + uuid.uuid4().hex
    repository = f"{lab.auth_registry_address}/tap/private{uuid.uuid4().hex[:6]}"
    config = tmp_path / "docker-config"
    live = WebsocketCommunicator(application, "/ws/live/", headers=ORIGIN)
    assert (await live.connect())[0]

    login = ("login", lab.auth_registry_address, "-u", lab.auth_user, "--password-stdin")
    refused = await asyncio.to_thread(docker, tap, config, *login, stdin=wrong)
    assert refused.returncode != 0 and "401 Unauthorized" in refused.stderr
    accepted = await asyncio.to_thread(docker, tap, config, *login, stdin=lab.auth_password)
    assert accepted.returncode == 0, accepted.stderr
    for step in (("tag", lab.base_image, f"{repository}:1"), ("push", f"{repository}:1")):
        done = await asyncio.to_thread(docker, tap, config, *step)
        assert done.returncode == 0, done.stderr

    # Every frame the live page was sent, until the push's own record (stored before it is sent) arrives.
    frames: list[str] = []
    while not pushed(frames, repository):
        frames.append(await live.receive_from(timeout=FRAME_SECONDS))
    while not await live.receive_nothing(timeout=0.2):
        frames.append(await live.receive_from())
    await live.disconnect()

    logins = [call["attributes"]["status"] for call in api_calls(frames) if call["attributes"]["path"] == "/auth"]
    assert [status == 200 for status in logins] == [False, True]  # dockerd 20.10 refuses a login with a 500
    stored = await asyncio.to_thread(database_text)
    assert "/auth" in stored and f"{repository}/push" in stored
    places = {"database": stored, "log": caplog.text, "websocket frames": "\n".join(frames)}
    credentials = {"the password": lab.auth_password, "the wrong password": wrong}
    found = [f"{name} ({'as is' if needle == secret else 'in base64'}) in the {place}"
             for name, secret in credentials.items() for needle in (secret, *encoded_forms(secret))
             for place, text in places.items() if needle in text]
    assert found == []
