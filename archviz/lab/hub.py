"""The lab's offline Docker Hub stand-in: the images the lessons name, built here, never the real ones.

The lab registry is also the lab daemon's Docker Hub mirror (`dockerd --registry-mirror`), so a plain
`docker pull nginx` asks it for `library/nginx:latest`. `STAND_INS` is the one table of what it holds. Every image
is made of layers built from Debian's busybox-static: the binary, then one link per applet (both shared by all, so a
second pull finds them already there), then a note saying what the image stands in for, then what that image needs
(a web page, a greeting). Each says in its `org.opencontainers.image.description` label that it is a lab stand-in.

The images are built once into a cache folder laid out as a registry's own filesystem storage (archviz.lab.storage),
keyed by the busybox binary, the machine and the code; each lab copies that tree into its registry's storage. So a
lab starts without building or uploading anything, the seeding sends no registry notifications, and the daemon's
image store stays empty of them: the lessons' first `docker pull` or `docker run` really pulls.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from archviz.lab import storage
from archviz.lab.storage import Storage, copy_into

BUSYBOX = Path("/bin/busybox")
# What a stand-in's description begins with; the inventory shows an image whose description does as a stand-in.
STAND_IN_MARK = "archviz lab stand-in"
DESCRIPTION = "org.opencontainers.image.description"
# Fixed times and owners: the same busybox makes the same bytes, so the same digests, on every build.
CREATED = "2024-01-01T00:00:00Z"
MTIME = 1704067200
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class Entry:
    """One member of a layer's tar: a folder, a file with its bytes, or a symbolic link."""

    path: str
    data: bytes = b""
    mode: int = 0o644
    link: str = ""
    folder: bool = False


@dataclass(frozen=True)
class Layer:
    """What `docker history` says made it, and the files it adds."""

    created_by: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class StandIn:
    """One stand-in: its repository on the Hub, its tags, what it adds to the shared layers, and its config."""

    repository: str
    tags: tuple[str, ...]
    extra: tuple[Entry, ...] = ()
    cmd: tuple[str, ...] = ("sh",)
    exposed: tuple[str, ...] = ()
    stop_signal: str = ""

    @property
    def name(self) -> str:
        """What the lessons call it: `nginx` for Docker Hub's `library/nginx`."""
        return self.repository.removeprefix("library/")

    @property
    def description(self) -> str:
        return (f"{STAND_IN_MARK} for Docker Hub's {self.name}, built offline by archviz from Debian's "
                f"busybox-static: not the real {self.name} image.")


def script(path: str, text: str) -> Entry:
    return Entry(path, text.encode(), 0o755)


HELLO = """#!/bin/sh
cat <<'EOF'

Hello from archviz's lab stand-in for hello-world!
(Not Docker's own image: archviz built this one from Debian's busybox, offline.)

To show you this message, Docker took these steps:
 1. The Docker client contacted the Docker daemon.
 2. The Docker daemon pulled the "hello-world" image from the registry
    (here, the archviz lab's stand-in for Docker Hub).
 3. The Docker daemon created a new container from that image, which runs the
    executable that produces the output you are currently reading.
 4. The Docker daemon streamed that output to the Docker client, which sent it
    to your terminal.

The archviz dashboard draws each of those steps as it happens.

EOF
"""

# busybox httpd in the foreground serves the page on port 80; the shell above it ends on the signals `docker stop`
# sends (the image's stop signal is SIGQUIT, as the real nginx's is), so a stop takes no ten-second grace period.
NGINX = """#!/bin/sh
# archviz lab stand-in for nginx: busybox httpd serves /usr/share/nginx/html on port 80. Arguments are ignored.
trap 'exit 0' TERM INT QUIT
httpd -f -v -p 80 -h /usr/share/nginx/html &
wait
"""

NGINX_PAGE = """<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>This is the archviz lab's stand-in for nginx: busybox httpd, answering on port 80 inside the container.
It is not the real nginx image; it lets the lessons' commands work offline.</p>
</body>
</html>
"""

STAND_INS = (
    StandIn("library/nginx", ("latest", "1.27"),
            (script("usr/sbin/nginx", NGINX), Entry("usr/share/nginx/html/index.html", NGINX_PAGE.encode())),
            cmd=("nginx", "-g", "daemon off;"), exposed=("80/tcp",), stop_signal="SIGQUIT"),
    StandIn("library/ubuntu", ("latest",),
            (script("bin/bash", '#!/bin/sh\n# archviz lab stand-in: busybox sh answers for bash.\nexec sh "$@"\n'),),
            cmd=("/bin/bash",)),
    StandIn("library/alpine", ("3.18", "latest"),
            (Entry("etc/alpine-release", b"3.18 (archviz lab stand-in)\n"),), cmd=("/bin/sh",)),
    StandIn("library/hello-world", ("latest",), (script("hello", HELLO),), cmd=("/hello",)),
    StandIn("library/busybox", ("latest",), cmd=("sh",)),
)


# Building -----------------------------------------------------------------------------------------------------


def busybox_layer(busybox: bytes) -> Layer:
    folders = [Entry(name, mode=0o1777 if name == "tmp" else 0o755, folder=True) for name in (
        "bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "usr/share",
        "var", "var/www")]
    return Layer("COPY busybox /bin/busybox # Debian's busybox-static, and the usual folders",
                 (*folders, Entry("bin/busybox", busybox, 0o755)))


def applets_layer(applets: list[str]) -> Layer:
    links = [Entry(f"bin/{name}", link="busybox") for name in sorted(applets) if name != "busybox"]
    accounts = (
        Entry("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\n"
                            b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
        Entry("etc/group", b"root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n"),
    )
    return Layer("RUN busybox --install -s /bin # a link per applet: sh, ls, wget, httpd...", (*links, *accounts))


def note_layer(stand_in: StandIn) -> Layer:
    name = stand_in.name
    os_release = f'PRETTY_NAME="{STAND_IN_MARK} for {name} (busybox)"\nNAME="{name}"\nID=archviz-lab\n'
    return Layer(f"COPY archviz-stand-in os-release /etc/ # says it stands in for {name}",
                 (Entry("etc/archviz-stand-in", f"{stand_in.description}\n".encode()),
                  Entry("etc/os-release", os_release.encode())))


def layers_of(stand_in: StandIn, shared: tuple[Layer, ...]) -> tuple[Layer, ...]:
    layers = (*shared, note_layer(stand_in))
    if stand_in.extra:
        paths = " ".join(f"/{entry.path}" for entry in stand_in.extra)
        layers += (Layer(f"COPY {paths}", stand_in.extra),)
    return layers


def tar_of(layer: Layer) -> bytes:
    """The layer's tar, the same bytes for the same entries (fixed times, root owner, no names)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for folder in sorted(_parents(layer.entries)):
            archive.addfile(_info(Entry(folder, mode=0o755, folder=True)))
        for entry in layer.entries:
            archive.addfile(_info(entry), io.BytesIO(entry.data) if entry.data else None)
    return buffer.getvalue()


def _parents(entries: tuple[Entry, ...]) -> set[str]:
    """Folders the entries sit in that the layer does not list itself (a tar must create them in order)."""
    listed = {entry.path for entry in entries}
    return {"/".join(entry.path.split("/")[:depth]) for entry in entries
            for depth in range(1, entry.path.count("/") + 1)} - listed


def _info(entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.path)
    info.mtime, info.mode, info.uid, info.gid = MTIME, entry.mode, 0, 0
    if entry.folder:
        info.type = tarfile.DIRTYPE
    elif entry.link:
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.link, 0o777
    else:
        info.size = len(entry.data)
    return info


def image_config(stand_in: StandIn, layers: tuple[Layer, ...], diff_ids: list[str]) -> dict[str, object]:
    labels = {DESCRIPTION: stand_in.description,
              "org.opencontainers.image.title": f"{stand_in.name} ({STAND_IN_MARK})"}
    config: dict[str, object] = {"Env": [PATH], "Cmd": list(stand_in.cmd), "Labels": labels, "WorkingDir": "/"}
    if stand_in.exposed:
        config["ExposedPorts"] = {port: {} for port in stand_in.exposed}
    if stand_in.stop_signal:
        config["StopSignal"] = stand_in.stop_signal
    # Steps that set only metadata read as the classic builder writes them, so `docker history` reads as usual.
    metadata = [f"LABEL {DESCRIPTION}={json.dumps(stand_in.description)}", f"CMD {json.dumps(list(stand_in.cmd))}"]
    history = [{"created": CREATED, "created_by": layer.created_by} for layer in layers]
    history += [{"created": CREATED, "created_by": f"/bin/sh -c #(nop)  {step}", "empty_layer": True}
                for step in metadata]
    return {"architecture": GO_ARCH.get(platform.machine(), platform.machine()), "os": "linux", "created": CREATED,
            "config": config, "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}


def build(root: Path, busybox: Path = BUSYBOX) -> dict[str, str]:
    """Write every stand-in into a registry storage at `root`; return each reference's manifest digest."""
    binary = busybox.read_bytes()
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    shared = (busybox_layer(binary), applets_layer(applets))
    tars: dict[Layer, bytes] = {}
    gzipped: dict[Layer, bytes] = {}

    def tar(layer: Layer) -> bytes:
        if layer not in tars:
            tars[layer] = tar_of(layer)
        return tars[layer]

    def compressed(layer: Layer) -> bytes:
        if layer not in gzipped:
            gzipped[layer] = gzip.compress(tar(layer), compresslevel=6, mtime=0)
        return gzipped[layer]

    def diff_id(layer: Layer) -> str:
        return f"sha256:{hashlib.sha256(tar(layer)).hexdigest()}"

    storage = Storage(root)
    digests = {}
    for stand_in in STAND_INS:
        layers = layers_of(stand_in, shared)
        config = json.dumps(image_config(stand_in, layers, [diff_id(layer) for layer in layers]),
                            separators=(",", ":")).encode()
        digest = storage.put_image(stand_in.repository, stand_in.tags, [compressed(layer) for layer in layers], config)
        digests.update({f"{stand_in.repository}:{tag}": digest for tag in stand_in.tags})
    return digests


# The cache, and seeding a lab's registry ------------------------------------------------------------------------


def cache_key(busybox: Path = BUSYBOX) -> str:
    """What the built stand-ins depend on: the busybox binary, the machine, and the code that writes them."""
    digest = hashlib.sha256(busybox.read_bytes())
    digest.update(platform.machine().encode())
    for recipe in (Path(__file__), Path(storage.__file__)):
        digest.update(recipe.read_bytes())
    return digest.hexdigest()[:16]


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "archviz"


def cached(cache: Path, busybox: Path = BUSYBOX) -> Path:
    """The built stand-ins in the cache (a registry storage tree), built first when missing.

    Built in a fresh folder and renamed into place, so labs starting at once never see half a tree."""
    final = cache / f"hub-{cache_key(busybox)}"
    if final.exists():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="hub-building-", dir=cache))
    try:
        build(building, busybox)
        os.rename(building, final)
    except OSError:
        if not final.exists():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return final


def seed(root: Path, cache: Path, busybox: Path = BUSYBOX) -> list[str]:
    """Put the stand-ins into the registry storage whose root is `root`; return the references it now holds."""
    copy_into(cached(cache, busybox), root)
    return references()


def references() -> list[str]:
    """`library/nginx:latest`, …: what a lab's registry holds for the Hub stand-in."""
    return [f"{stand_in.repository}:{tag}" for stand_in in STAND_INS for tag in stand_in.tags]
