"""Where the API tap listens: the addresses it accepts and refuses, and the real docker CLI through TCP and TLS.

The people here: a client with a certificate from the tap's CA; a stranger with none; an impostor with a
certificate from another CA; a client that forgot TLS; and any local user, who could drive the daemon through a
plain TCP port on loopback, which is why that needs an explicit opt-in. Every listener binds 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from django.test import Client, override_settings

from archviz.lab import Lab
from archviz.management.commands.tap import OPTIONS
from archviz.tap.listen import TcpAddress, listen_at
from archviz.tap.proxy import Tap
from tests.certificates import make_pki
from tests.conftest import ROOT, dashboard_env, free_port, process_log, start_serve
from tests.lab_helpers import eventually
from tests.test_tap import calls, docker

TLS_OPTIONS = "give --tlscacert, --tlscert and --tlskey"
LOOPBACK = [
    ("tcp://127.0.0.1:2375", "127.0.0.1", 2375),
    ("tcp://127.8.9.1:1", "127.8.9.1", 1),
    ("tcp://[::1]:65535", "::1", 65535),
    ("tcp://localhost:2375", "localhost", 2375),
]


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA, the tap's certificate (for 127.0.0.1) and a client's; and an impostor's from another CA."""

    ca: Path
    server: Path
    server_key: Path
    client: Path
    client_key: Path
    impostor: Path
    impostor_key: Path

    @property
    def client_identity(self) -> tuple[Path, Path]:
        return self.client, self.client_key

    @property
    def impostor_identity(self) -> tuple[Path, Path]:
        return self.impostor, self.impostor_key


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    make_pki(folder, "client")
    return Certificates(*(folder / name for name in (
        "ca.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem", "impostor.pem",
        "impostor-key.pem")))


def tls_files(certificates: Certificates) -> tuple[str, str, str]:
    return str(certificates.ca), str(certificates.server), str(certificates.server_key)


# Reading the address


def test_a_unix_address_is_the_path_of_the_socket() -> None:
    assert listen_at("unix:///run/archviz.sock", None, None, None, OPTIONS) == Path("/run/archviz.sock")


@pytest.mark.parametrize(("address", "host", "port"), LOOPBACK)
def test_plain_tcp_on_loopback_is_refused_naming_a_unix_socket_tls_and_the_opt_in(address: str, host: str,
                                                                                  port: int) -> None:
    with pytest.raises(ValueError, match="is plain TCP: any local user who can reach the port would drive the "
                                         "daemon, which is root") as refused:
        listen_at(address, None, None, None, OPTIONS)
    assert "Listen on a unix socket (unix:///PATH" in str(refused.value)
    assert TLS_OPTIONS in str(refused.value)
    assert str(refused.value).endswith("or, knowing that, set --insecure-loopback")


@pytest.mark.parametrize(("address", "host", "port"), LOOPBACK)
def test_plain_tcp_on_loopback_is_taken_when_asked_for_in_so_many_words(address: str, host: str, port: int) -> None:
    listen = listen_at(address, None, None, None, OPTIONS, insecure_loopback=True)
    assert listen == TcpAddress(host, port)
    assert isinstance(listen, TcpAddress) and listen.url == address


def test_the_opt_in_never_opens_plain_tcp_off_loopback() -> None:
    with pytest.raises(ValueError, match="off loopback"):
        listen_at("tcp://0.0.0.0:2375", None, None, None, OPTIONS, insecure_loopback=True)


@pytest.mark.parametrize("address", ["tcp://10.1.2.3:2375", "tcp://0.0.0.0:2375", "tcp://[::]:2375",
                                     "tcp://192.0.2.10:2376", "tcp://docker.example.org:2376"])
def test_tcp_off_loopback_without_tls_is_refused_naming_the_tls_options(address: str) -> None:
    with pytest.raises(ValueError, match="off loopback") as refused:
        listen_at(address, None, None, None, OPTIONS)
    assert TLS_OPTIONS in str(refused.value)


def test_tcp_off_loopback_with_tls_gets_a_context_that_requires_client_certificates(
        certificates: Certificates) -> None:
    listen = listen_at("tcp://10.1.2.3:2376", *tls_files(certificates), OPTIONS)  # read only: nothing is bound
    assert isinstance(listen, TcpAddress) and listen.tls is not None
    assert listen.tls.verify_mode == ssl.CERT_REQUIRED
    assert listen.tls.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(("given", "missing"), [
    ({"ca": "ca.pem"}, "--tlscert and --tlskey is missing"),
    ({"ca": "ca.pem", "cert": "cert.pem"}, "--tlskey is missing"),
    ({"key": "key.pem"}, "--tlscacert and --tlscert is missing"),
])
def test_a_partial_set_of_tls_files_is_refused_naming_what_is_missing(given: dict[str, str], missing: str) -> None:
    with pytest.raises(ValueError, match="TLS needs all three of --tlscacert, --tlscert and --tlskey") as refused:
        listen_at("tcp://10.1.2.3:2376", given.get("ca"), given.get("cert"), given.get("key"), OPTIONS)
    assert str(refused.value).endswith(missing)


def test_tls_files_with_a_unix_socket_are_refused(certificates: Certificates) -> None:
    with pytest.raises(ValueError, match="apply to tcp:// only: a unix socket is guarded by its owner and mode"):
        listen_at("unix:///run/archviz.sock", *tls_files(certificates), OPTIONS)


@pytest.mark.parametrize(("address", "message"), [
    ("tcp://127.0.0.1", "needs a host and a port, as in tcp://127.0.0.1:2375"),
    ("tcp://127.0.0.1:", "needs a host and a port"),
    ("tcp://:2375", "needs a host and a port"),
    ("tcp://127.0.0.1:0", "'0' is not a TCP port (1-65535)"),
    ("tcp://127.0.0.1:99999", "'99999' is not a TCP port (1-65535)"),
    ("tcp://127.0.0.1:http", "'http' is not a TCP port"),
    ("tcp://127.0.0.1:2375/path", "'2375/path' is not a TCP port"),
    ("tcp://::1:2375", "write an IPv6 host in brackets, as in tcp://[::1]:2375"),
    ("tcp://[fe80::zz]:2375", "[fe80::zz] is not an IPv6 address"),
    ("tcp://300.1.2.3:2375", "300.1.2.3 is not an IPv4 address"),
    ("tcp://no such host:2375", "'no such host' is not a host name or an IP address"),
    ("garbage", "is neither unix:///PATH nor tcp://HOST:PORT"),
    ("http://127.0.0.1:2375", "is neither unix:///PATH nor tcp://HOST:PORT"),
    ("unix://", "names no socket, as in unix:///run/archviz.sock"),
    ("unix:///tmp/" + "x" * 120, "is longer than a unix socket path may be (107 bytes)"),
])
def test_a_bad_address_is_refused_saying_what_to_write(address: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        listen_at(address, None, None, None, OPTIONS)
    assert str(refused.value).startswith(f"--listen {address!r}")
    assert message in str(refused.value)


def test_tls_files_that_cannot_be_used_are_refused_naming_the_file(certificates: Certificates,
                                                                   tmp_path: Path) -> None:
    ca, cert, key = tls_files(certificates)
    cases = [
        ((str(tmp_path / "none.pem"), cert, key), f"--tlscacert {tmp_path / 'none.pem'}: no readable file there"),
        ((ca, cert, str(certificates.client_key)), "are not a PEM certificate and its unencrypted private key "
                                                   "(KEY_VALUES_MISMATCH)"),
        ((key, cert, key), f"--tlscacert {key} holds no PEM certificate"),
    ]
    for files, message in cases:
        with pytest.raises(ValueError) as refused:
            listen_at("tcp://127.0.0.1:2376", *files, OPTIONS)
        assert message in str(refused.value)


# The commands refuse before binding anything


def test_the_tap_command_refuses_tcp_off_loopback_without_tls(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "manage.py", "tap", "--listen", "tcp://10.1.2.3:2375"], cwd=ROOT,
                            env=dashboard_env(tmp_path, "unix:///nonexistent.sock"), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "CommandError: --listen 'tcp://10.1.2.3:2375' is off loopback" in result.stderr
    assert TLS_OPTIONS in result.stderr


def test_the_tap_command_refuses_plain_tcp_on_loopback_naming_the_opt_in(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    result = subprocess.run([sys.executable, "manage.py", "tap", "--listen", address], cwd=ROOT,
                            env=dashboard_env(tmp_path, "unix:///nonexistent.sock"), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert f"CommandError: --listen '{address}' is plain TCP" in result.stderr
    assert "--insecure-loopback" in result.stderr


def test_the_tap_command_opted_in_to_plain_tcp_warns_at_start(tmp_path: Path) -> None:
    daemon = tmp_path / "d.sock"  # only its existence is checked before the tap starts
    with socket.socket(socket.AF_UNIX) as placeholder:
        placeholder.bind(str(daemon))
        port = free_port()
        tap = subprocess.Popen([sys.executable, "manage.py", "tap", "--listen", f"tcp://127.0.0.1:{port}",
                                "--insecure-loopback", "--upstream", f"unix://{daemon}"], cwd=ROOT,
                               env=dashboard_env(tmp_path, "unix:///nonexistent.sock"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        try:
            listening(port)
        finally:
            tap.terminate()
            _, stderr = tap.communicate(timeout=30)
    assert (f"WARNING: the API tap listens on tcp://127.0.0.1:{port} without TLS: any local user who can reach that "
            "port drives the Docker daemon, which is root") in stderr


@pytest.mark.django_db
def test_the_live_page_warns_while_serve_runs_the_tap_on_plain_tcp() -> None:
    with override_settings(ARCHVIZ_TAP_SOCKET="tcp://127.0.0.1:2375", ARCHVIZ_TAP_INSECURE_LOOPBACK=True):
        page = Client().get("/").content.decode()
    assert "It listens on tcp://127.0.0.1:2375 without TLS: any local user who can reach that port drives" in page
    assert 'id="tap-warning"' not in Client().get("/").content.decode()


@pytest.mark.parametrize(("address", "message"), [
    ("tcp://10.1.2.3:2375", "give ARCHVIZ_TAP_TLS_CA, ARCHVIZ_TAP_TLS_CERT and ARCHVIZ_TAP_TLS_KEY"),
    ("tcp://127.0.0.1:2375", "or, knowing that, set ARCHVIZ_TAP_INSECURE_LOOPBACK=1"),
], ids=["off-loopback", "plain-on-loopback"])
def test_serve_refuses_a_tap_on_plain_tcp_naming_the_settings(tmp_path: Path, address: str, message: str) -> None:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock") | {"ARCHVIZ_TAP_SOCKET": address}
    result = subprocess.run([sys.executable, "manage.py", "serve", "--port", str(free_port()), "--no-watch"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr


# The docker CLI through TCP and TLS


@pytest_asyncio.fixture
async def tcp_tap(lab: Lab) -> AsyncIterator[Tap]:
    the_tap = Tap(listen_at(f"tcp://127.0.0.1:{free_port()}", None, None, None, OPTIONS, insecure_loopback=True),
                  lab.socket)
    server = await the_tap.start()
    yield the_tap
    await the_tap.stop(server)


@pytest_asyncio.fixture
async def tls_tap(lab: Lab, certificates: Certificates) -> AsyncIterator[Tap]:
    the_tap = Tap(listen_at(f"tcp://127.0.0.1:{free_port()}", *tls_files(certificates), OPTIONS), lab.socket)
    server = await the_tap.start()
    yield the_tap
    await the_tap.stop(server)


def tcp_url(tap: Tap) -> str:
    assert isinstance(tap.listen, TcpAddress)
    return tap.listen.url


def docker_tls(tap: Tap, certificates: Certificates, identity: tuple[Path, Path] | None, *args: str,
               config: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The docker CLI at the TLS tap, trusting its CA, with the client certificate and key in `identity`. Its
    config folder is an empty one: the CLI finds no certificate of its own there."""
    given = ["--tlscert", str(identity[0]), "--tlskey", str(identity[1])] if identity else []
    return docker(tcp_url(tap), "--config", str(config), "--tlsverify", "--tlscacert", str(certificates.ca),
                  *given, *args, stdin=stdin)


def ping(port: int, context: ssl.SSLContext | None) -> bytes:
    """GET /_ping on the tap's port, with TLS when given a context; the first bytes of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        connection = context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw
        connection.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        return connection.recv(1000)


def listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, f"nothing listens on 127.0.0.1:{port}"
            time.sleep(0.05)


def client_context(certificates: Certificates, identity: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificates.ca))
    if identity:
        context.load_cert_chain(*map(str, identity))
    return context


VERSION = ("version", "--format", "{{.Server.Version}}")


async def version_calls(at_least: int) -> list[dict]:
    found = [c for c in await calls() if c["attributes"]["path"] == "/version"]
    return found if len(found) >= at_least else []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_the_docker_cli_through_tcp_on_loopback_gets_what_it_gets_directly(lab: Lab, tcp_tap: Tap) -> None:
    direct = await asyncio.to_thread(docker, lab.docker_host, *VERSION)
    tapped = await asyncio.to_thread(docker, tcp_url(tcp_tap), *VERSION)
    assert (tapped.returncode, tapped.stdout) == (0, direct.stdout) and direct.stdout.strip()
    recorded = await eventually(lambda: version_calls(1), what="GET /version recorded")
    assert recorded[0]["attributes"]["status"] == 200
    assert recorded[0]["attributes"]["pid"] is None  # over TCP the client's process is unknown


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_only_clients_with_a_certificate_from_the_tap_ca_get_through_tls(
        lab: Lab, tls_tap: Tap, certificates: Certificates, tmp_path: Path) -> None:
    assert isinstance(tls_tap.listen, TcpAddress)
    port, client, impostor = tls_tap.listen.port, certificates.client_identity, certificates.impostor_identity
    direct = await asyncio.to_thread(docker, lab.docker_host, *VERSION)
    first = await asyncio.to_thread(docker_tls, tls_tap, certificates, client, *VERSION, config=tmp_path)
    assert (first.returncode, first.stdout) == (0, direct.stdout), first.stderr

    for identity in (None, impostor):  # a stranger, an impostor
        refused = await asyncio.to_thread(docker_tls, tls_tap, certificates, identity, *VERSION, config=tmp_path)
        assert refused.returncode != 0 and not refused.stdout.strip()
        assert refused.stderr.startswith("error during connect"), refused.stderr
    # Refused at the handshake, with the reason in the alert; a client that forgot TLS gets no byte back.
    with pytest.raises(ssl.SSLError, match="certificate required"):
        await asyncio.to_thread(ping, port, client_context(certificates, None))
    with pytest.raises(ssl.SSLError, match="unknown ca"):
        await asyncio.to_thread(ping, port, client_context(certificates, impostor))
    assert await asyncio.to_thread(ping, port, None) == b""

    answer = await asyncio.to_thread(ping, port, client_context(certificates, client))
    assert answer.startswith(b"HTTP/1.1 200 OK")
    again = await asyncio.to_thread(docker_tls, tls_tap, certificates, client, *VERSION, config=tmp_path)
    assert (again.returncode, again.stdout) == (0, direct.stdout), again.stderr
    recorded = await eventually(lambda: version_calls(2), what="the client's two GET /version recorded")
    assert len(recorded) == 2  # the refused clients never reached the daemon


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.lab
async def test_attached_output_survives_the_clients_half_close_over_tls(
        lab: Lab, tls_tap: Tap, certificates: Certificates, tmp_path: Path) -> None:
    # The docker CLI half-closes an attach once its input is done (at once when there is none); the output
    # that follows must still reach it.
    cases = [
        (("run", "--rm", lab.base_image, "sh", "-c", "echo out; echo err >&2; exit 3"), None),
        (("run", "-i", "--rm", lab.base_image, "cat"), "hello through stdin\n"),
        (("run", "-i", "--rm", lab.base_image, "sh", "-c", "cat; sleep 1; echo after the input"), "in\n"),
    ]
    for args, stdin in cases:
        direct = await asyncio.to_thread(docker, lab.docker_host, *args, stdin=stdin)
        tapped = await asyncio.to_thread(docker_tls, tls_tap, certificates, certificates.client_identity, *args,
                                         config=tmp_path, stdin=stdin)
        assert (tapped.returncode, tapped.stdout) == (direct.returncode, direct.stdout), tapped.stderr


@pytest.mark.lab
def test_the_tap_command_serves_tls_and_says_how_to_connect(lab: Lab, certificates: Certificates,
                                                            tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, lab.docker_host)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    address = f"tcp://127.0.0.1:{free_port()}"
    ca, cert, key = tls_files(certificates)
    command = subprocess.Popen([sys.executable, "manage.py", "tap", "--listen", address, "--tlscacert", ca,
                                "--tlscert", cert, "--tlskey", key], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert command.stdout is not None
        said = command.stdout.readline()  # printed once it listens
        assert said == (f"tapping {lab.socket}; point clients at DOCKER_HOST={address} with DOCKER_TLS_VERIFY=1 "
                        "and a client certificate from the CA\n")
        result = docker(address, "--config", str(tmp_path), "--tlsverify", "--tlscacert", ca, "--tlscert",
                        str(certificates.client), "--tlskey", str(certificates.client_key), *VERSION)
        assert result.returncode == 0 and result.stdout.strip(), result.stderr
    finally:
        command.terminate()
        assert command.wait(timeout=15) == 0


@pytest.mark.lab
def test_serve_runs_the_tap_with_tls_from_its_settings(lab: Lab, certificates: Certificates, tmp_path: Path) -> None:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    ca, cert, key = tls_files(certificates)
    env = dashboard_env(tmp_path, lab.docker_host) | {
        "ARCHVIZ_TAP_SOCKET": address, "ARCHVIZ_TAP_TLS_CA": ca, "ARCHVIZ_TAP_TLS_CERT": cert,
        "ARCHVIZ_TAP_TLS_KEY": key}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    web = free_port()
    server = start_serve(web, env, "--no-watch")
    try:
        listening(port)  # the tap starts in its own task, beside the web server
        client = ["--config", str(tmp_path), "--tlsverify", "--tlscacert", ca, "--tlscert", str(certificates.client),
                  "--tlskey", str(certificates.client_key)]
        result = docker(address, *client, *VERSION)
        assert result.returncode == 0 and result.stdout.strip(), result.stderr
        refused = docker(address, "--config", str(tmp_path), "--tlsverify", "--tlscacert", ca, *VERSION)
        assert refused.returncode != 0
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert f"The API tap listens on {address}" in process_log(env, f"serve-{web}").read_text()
