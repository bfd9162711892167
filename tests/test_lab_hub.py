"""The lab's Docker Hub stand-in and network guard, without a daemon: the images are built the same every time, once
per machine, copied into a lab registry's storage as distribution lays it out, and each says it is a stand-in; the
guard refuses what the daemon would send off the machine, and records it."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from archviz.lab import guard, hub
from archviz.lab.processes import NO_PROXY, guarded
from tests.conftest import ROOT


def v2(storage: Path) -> Path:
    return storage / "docker" / "registry" / "v2"


def blob(storage: Path, digest: str) -> bytes:
    hexdigest = digest.removeprefix("sha256:")
    return (v2(storage) / "blobs" / "sha256" / hexdigest[:2] / hexdigest / "data").read_bytes()


def manifest(storage: Path, repository: str, tag: str) -> dict:
    tags = v2(storage) / "repositories" / repository / "_manifests" / "tags" / tag
    return json.loads(blob(storage, (tags / "current" / "link").read_text()))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    storage = tmp_path_factory.mktemp("hub")
    return storage, hub.build(storage)


def test_the_stand_ins_are_the_images_the_lessons_name(built: tuple[Path, dict[str, str]]) -> None:
    _, digests = built
    assert sorted(digests) == ["library/alpine:3.18", "library/alpine:latest", "library/busybox:latest",
                               "library/hello-world:latest", "library/nginx:1.27", "library/nginx:latest",
                               "library/ubuntu:latest"]
    assert digests["library/nginx:latest"] == digests["library/nginx:1.27"]


def test_building_again_makes_the_same_digests(built: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    assert hub.build(tmp_path) == built[1]


def test_each_stand_in_says_in_its_description_that_it_is_one(built: tuple[Path, dict[str, str]]) -> None:
    storage, digests = built
    for reference in digests:
        repository, tag = reference.rsplit(":", 1)
        config = json.loads(blob(storage, manifest(storage, repository, tag)["config"]["digest"]))
        description = config["config"]["Labels"]["org.opencontainers.image.description"]
        name = repository.removeprefix("library/")
        assert description.startswith(f"archviz lab stand-in for Docker Hub's {name},"), description
        assert f"not the real {name} image" in description


def test_every_stand_in_has_several_layers_and_shares_the_busybox_ones(built: tuple[Path, dict[str, str]]) -> None:
    storage, digests = built
    layers = {reference: [layer["digest"] for layer in manifest(storage, *reference.rsplit(":", 1))["layers"]]
              for reference in digests}
    assert all(len(found) >= 3 for found in layers.values()), layers
    assert len({tuple(found[:2]) for found in layers.values()}) == 1  # busybox, then its applet links
    assert len({found[2] for found in layers.values()}) == len(set(digests.values()))  # each its own note


def test_a_layers_diff_id_is_the_digest_of_its_uncompressed_tar(built: tuple[Path, dict[str, str]]) -> None:
    storage, _ = built
    image = manifest(storage, "library/nginx", "latest")
    config = json.loads(blob(storage, image["config"]["digest"]))
    for layer, diff_id in zip(image["layers"], config["rootfs"]["diff_ids"], strict=True):
        data = blob(storage, layer["digest"])
        assert len(data) == layer["size"]
        assert f"sha256:{hashlib.sha256(gzip.decompress(data)).hexdigest()}" == diff_id


def files_of(storage: Path, repository: str) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """Every file the image's layers add, by path, with its bytes (upper layers win)."""
    files = {}
    for layer in manifest(storage, repository, "latest")["layers"]:
        with tarfile.open(fileobj=io.BytesIO(blob(storage, layer["digest"]))) as archive:
            for member in archive.getmembers():
                content = archive.extractfile(member) if member.isfile() else None
                files[member.name] = (member, content.read() if content else b"")
    return files


def test_nginx_serves_its_page_with_busybox_httpd_and_hello_world_names_the_four_steps(
        built: tuple[Path, dict[str, str]]) -> None:
    storage, _ = built
    nginx = files_of(storage, "library/nginx")
    assert nginx["bin/httpd"][0].linkname == "busybox"
    assert nginx["usr/sbin/nginx"][0].mode & 0o111 and b"httpd -f" in nginx["usr/sbin/nginx"][1]
    assert b"Welcome to nginx!" in nginx["usr/share/nginx/html/index.html"][1]
    hello = " ".join(files_of(storage, "library/hello-world")["hello"][1].decode().split())
    for step in ("client contacted the Docker daemon", 'daemon pulled the "hello-world" image',
                 "created a new container", "streamed that output to the Docker client"):
        assert step in hello, step


def test_the_stand_ins_are_built_once_then_copied_into_each_lab_registry(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = hub.cached(cache)
    stamp = (first / "docker").stat().st_mtime_ns
    assert hub.cached(cache) == first and (first / "docker").stat().st_mtime_ns == stamp
    assert [path.name for path in cache.iterdir()] == [first.name]  # nothing half-built left behind

    storage = tmp_path / "registry"
    assert hub.seed(storage, cache) == hub.references()
    assert manifest(storage, "library/alpine", "3.18") == manifest(first, "library/alpine", "3.18")
    tag_link = v2(storage) / "repositories" / "library" / "ubuntu" / "_manifests" / "tags" / "latest" / "current"
    (tag_link / "link").write_text("sha256:" + "0" * 64)  # what the registry holds since stays as it is
    hub.seed(storage, cache)
    assert (tag_link / "link").read_text() == "sha256:" + "0" * 64


def test_the_daemon_sends_everything_off_loopback_to_the_guard() -> None:
    environment = guarded({"PATH": "/usr/bin", "http_proxy": "http://proxy.example:3128"}, "http://127.0.0.1:9")
    assert {name: environment[name] for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")} == \
        dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9")
    assert environment["NO_PROXY"] == environment["no_proxy"] == NO_PROXY == "localhost,127.0.0.0/8,::1"
    assert environment["PATH"] == "/usr/bin"


def test_the_guard_refuses_a_request_with_its_reason_and_records_where_it_was_going(tmp_path: Path) -> None:
    record = tmp_path / "guard.jsonl"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        process = subprocess.Popen([sys.executable, "-I", guard.__file__, str(listener.fileno()), str(record)],
                                   pass_fds=(listener.fileno(),))
        address = listener.getsockname()
    try:
        with socket.create_connection(address, timeout=5) as client:
            client.sendall(b"CONNECT registry-1.docker.io:443 HTTP/1.1\r\nHost: registry-1.docker.io:443\r\n\r\n")
            answer = client.makefile("rb").readline().decode()
    finally:
        process.terminate()
        process.wait(timeout=5)
    assert answer == f"HTTP/1.1 403 {guard.REASON}\r\n"
    [attempt] = guard.attempts(record)
    assert attempt["request"] == "CONNECT registry-1.docker.io:443 HTTP/1.1"
    assert str(attempt["peer"]).startswith("127.0.0.1:")


def test_the_lab_command_names_both_sockets(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    result = subprocess.run([sys.executable, "manage.py", "lab", "--help"], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "ARCHVIZ_LAB_DIR": str(lab_dir),
                                 "ARCHVIZ_DATA_DIR": str(tmp_path / "data")}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"unix://{lab_dir}/docker.sock" in result.stdout
    assert f"export DOCKER_HOST=unix://{lab_dir}/tap.sock" in result.stdout
