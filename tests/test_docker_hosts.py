"""ARCHVIZ_DOCKER_HOSTS as an operator writes it: a team's daemons, each with its own TLS settings, read in one place;
junk (a typo, a password in the address, a relative folder, a hostile character) stops start-up with a message that
says what to write instead, and certificates that cannot be used stop `watch` and `serve` before they retry forever.

Certificates here are made with Debian's openssl; the daemon that asks for them is in test_several_daemons.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from archviz.docker_hosts import DockerHost, from_docker_environment, parse_host, parse_hosts, unusable
from dashboard.env import env_docker_hosts
from tests.certificates import CLIENT, make_ca, make_signed
from tests.conftest import ROOT, dashboard_env

CERTS = Path("/etc/archviz/build1")

READ = [
    ("unix:///var/run/docker.sock", DockerHost("unix:///var/run/docker.sock")),
    ("tcp://127.0.0.1:2375", DockerHost("tcp://127.0.0.1:2375")),
    ("tcp://build1.example:2376?tls=/etc/archviz/build1", DockerHost("tcp://build1.example:2376", CERTS)),
    ("tcp://build1.example:2376/?tls=/etc/archviz/build1/", DockerHost("tcp://build1.example:2376/", CERTS)),
    ("tcp://[::1]:2376?tls=/etc/archviz/build1", DockerHost("tcp://[::1]:2376", CERTS)),
    ("tcp://10.0.0.7:2376?tls=/etc/archviz/a%2Cb+c", DockerHost("tcp://10.0.0.7:2376", Path("/etc/archviz/a,b+c"))),
]


@pytest.mark.parametrize(("entry", "host"), READ)
def test_each_address_is_read_with_its_own_tls_folder(entry: str, host: DockerHost) -> None:
    assert parse_host(entry) == host


def test_the_folder_holds_the_files_docker_cert_path_holds() -> None:
    assert parse_host("tcp://b:2376?tls=/c").tls_files() == (Path("/c/ca.pem"), Path("/c/cert.pem"),
                                                             Path("/c/key.pem"))
    assert parse_host("tcp://b:2375").tls_files() is None


REFUSED = [
    ("build1:2376", "is not a Docker address archviz can watch: use unix:///var/run/docker.sock or tcp://HOST:PORT"),
    ("ssh://me@build1", "is not a Docker address archviz can watch"),
    ("http://build1:2375", "is not a Docker address archviz can watch"),
    ("tcp://build1:2376#x", "is not a Docker address archviz can watch"),
    ("tcp://[::1:2376", "is not a Docker address archviz can watch"),
    ("unix://var/run/docker.sock", "a unix socket is named by its absolute path"),
    ("unix:///run/docker.sock?tls=/etc/certs", "TLS is for tcp:// addresses"),
    ("tcp://build1", "names no port"),
    ("tcp://build1:", "names no port"),
    ("tcp://build1:0", "names no port"),
    ("tcp://build1:65536", "names no port"),
    ("tcp://[::1]", "names no port"),
    ("tcp://:2376", "names no host"),
    ("tcp://bu<ild>1:2376", "names no host"),
    ("tcp://-x:2376", "names no host"),
    ("tcp://alice:s3cret@build1:2376", "holds no user or password"),
    ("tcp://build1:2376/v1.41", "has no path"),
    ("tcp://build1:2376?tls=certs/build1", "must be an absolute path"),
    ("tcp://build1:2376?tls=/etc/a%00b", "must be an absolute path"),
    ("tcp://build1:2376?tls=", "tls= is empty"),
    ("tcp://build1:2376?tls", "tls= is empty"),
    ("tcp://build1:2376?tlsverify=1", "after '?' archviz takes only tls="),
    ("tcp://build1:2376?tls=/a&tls=/b", "gives tls= twice"),
    ("tcp://build1:2376?tls=/a&", "after '?' archviz takes only tls="),
    ("tcp://build1 :2376", "holds a space or a control character"),
    ("tcp://build1:2376\x1b[2J", "holds a space or a control character"),
]


@pytest.mark.parametrize(("entry", "message"), REFUSED)
def test_junk_is_refused_saying_what_to_write(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace("(", r"\(")):
        parse_host(entry)


def test_a_host_listed_twice_counts_once_but_not_with_two_tls_settings() -> None:
    assert parse_hosts(["tcp://b:2376?tls=/c", "unix:///s", "tcp://b:2376?tls=/c/"]) == [
        DockerHost("tcp://b:2376", Path("/c")), DockerHost("unix:///s")]
    with pytest.raises(ValueError, match="tcp://b:2376 is listed twice with different TLS settings"):
        parse_hosts(["tcp://b:2376?tls=/c", "tcp://b:2376"])


def test_the_setting_names_itself_when_it_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHVIZ_DOCKER_HOSTS", "unix:///run/docker.sock, tcp://b:2376?tls=/c")
    assert env_docker_hosts("ARCHVIZ_DOCKER_HOSTS") == [DockerHost("unix:///run/docker.sock"),
                                                        DockerHost("tcp://b:2376", Path("/c"))]
    monkeypatch.setenv("ARCHVIZ_DOCKER_HOSTS", "tcp://alice:pw@b:2376")
    with pytest.raises(ImproperlyConfigured, match="^ARCHVIZ_DOCKER_HOSTS: 'tcp://alice:pw@b:2376': a Docker"):
        env_docker_hosts("ARCHVIZ_DOCKER_HOSTS")


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),
    ({"DOCKER_TLS_VERIFY": ""}, None),
    ({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"}, Path("/certs")),
    ({"DOCKER_TLS_VERIFY": "1", "HOME": "/home/ops"}, Path("/home/ops/.docker")),
])
def test_docker_host_takes_tls_as_the_docker_cli_does(environ: dict[str, str], expected: Path | None) -> None:
    assert from_docker_environment("tcp://b:2376", environ) == DockerHost("tcp://b:2376", expected)
    assert from_docker_environment("unix:///s", environ) == DockerHost("unix:///s")


@pytest.fixture(scope="module")
def client_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    make_ca(folder, "ca")
    make_signed(folder, "ca", "client", CLIENT)
    (folder / "cert.pem").write_bytes((folder / "client.pem").read_bytes())
    (folder / "key.pem").write_bytes((folder / "client-key.pem").read_bytes())
    return folder


def test_usable_files_pass(client_files: Path) -> None:
    assert unusable(DockerHost("tcp://b:2376", client_files)) is None
    assert unusable(DockerHost("unix:///s")) is None


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda folder: (folder / "key.pem").unlink(), "key.pem is missing or unreadable: put the unencrypted private key"),
    (lambda folder: (folder / "ca.pem").write_text("not a certificate"), "ca.pem holds no PEM certificate"),
    (lambda folder: (folder / "key.pem").write_bytes((folder / "ca-key.pem").read_bytes()),
     "are not a PEM certificate and its unencrypted private key"),
])
def test_unusable_files_are_named(client_files: Path, tmp_path: Path, spoil, message: str) -> None:  # noqa: ANN001
    for name in ("ca.pem", "cert.pem", "key.pem", "ca-key.pem"):
        (tmp_path / name).write_bytes((client_files / name).read_bytes())
    spoil(tmp_path)
    assert message in (unusable(DockerHost("tcp://b:2376", tmp_path)) or "")


def test_an_encrypted_key_is_refused_rather_than_asked_for(client_files: Path, tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem"):
        (tmp_path / name).write_bytes((client_files / name).read_bytes())
    subprocess.run(["/usr/bin/openssl", "pkey", "-in", client_files / "key.pem", "-aes256", "-passout", "pass:pw",
                    "-out", tmp_path / "key.pem"], check=True, capture_output=True)
    assert "unencrypted private key" in (unusable(DockerHost("tcp://b:2376", tmp_path)) or "")


@pytest.mark.parametrize("command", [["watch"], ["serve", "--port", "1"]])
def test_watch_and_serve_refuse_to_start_without_the_tls_files(command: list[str], tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock") | {
        "ARCHVIZ_DOCKER_HOSTS": f"unix:///nonexistent.sock,tcp://127.0.0.1:2376?tls={tmp_path}"}
    result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert (f"ARCHVIZ_DOCKER_HOSTS: tcp://127.0.0.1:2376?tls={tmp_path}: {tmp_path}/ca.pem is missing or "
            "unreadable: put the CA certificate that signed the daemon's certificate there") in result.stderr


def test_a_hostile_value_stops_every_command_at_start(tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock") | {"ARCHVIZ_DOCKER_HOSTS": "tcp://b:2376?tls=x"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert ("archviz is misconfigured: ARCHVIZ_DOCKER_HOSTS: 'tcp://b:2376?tls=x': tls='x' must be an absolute path"
            in result.stderr)
