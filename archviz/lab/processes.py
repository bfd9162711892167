"""The lab's processes: a real dockerd, real registries and the network guard, on loopback only.

The first registry takes anything from anyone, and is also the daemon's Docker Hub mirror, seeded with the
lessons' images (archviz.lab.hub); the second asks for a login (distribution's htpasswd auth), so `docker login`
and the credentials it hands the daemon can be watched (and checked to stay out of archviz). Both are Debian's
distribution 2.8.2. Where the lab is given a port for it and the shared folder beside the project holds it
(../shared/bin/registry-v3, an unmodified distribution 3.1.1, what teams run today), a third registry runs
distribution 3, listing each manifest's blobs in its events (`includereferences`). Without the binary the lab says
why and runs without it.

Every registry notifies the same webhooks. Both that ask for a login know the lab's two users, alice and bob (one
password each, made at random for each lab, the same at both), so the audit names who did what on 2.8.2 and on
3.1.1 alike; the 2.8.2 one also knows `archviz`, with a password of its own.

Used by `manage.py lab up|down|status`, by the run command when no daemon is reachable, and by the
test suite. The daemon runs with no bridge network, no iptables and no masquerading, so nothing it
runs can reach an address off loopback, and with its proxy variables pointing at the guard
(archviz.lab.guard), so nothing it asks for itself can either. Every image is built here from Debian's
busybox-static; nothing is ever pulled from Docker Hub.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests
from docker.errors import DockerException

from archviz.lab import guard, hub
from archviz.lab.hub import BUSYBOX

BUSYBOX_APPLETS = ("sh", "echo", "sleep", "cat", "ls", "true", "false", "env", "wc", "head", "dd", "printf")
APT_PACKAGES = "docker.io docker-registry busybox-static"
DAEMON_START_SECONDS = 60.0
REGISTRY_START_SECONDS = 20.0
AUTH_USER = "archviz"
# The users both registries that ask for a login know, so the audit has actors to name.
USERS = ("alice", "bob")
# distribution 3.1.1, built from its tag and kept beside the project (see ../shared/bin/README.md).
REGISTRY_V3 = Path(__file__).resolve().parents[3] / "shared" / "bin" / "registry-v3"
STOP_SECONDS = 20.0
POLL_SECONDS = 0.02
# Only loopback goes straight out; everything else the daemon asks for goes to the guard.
NO_PROXY = "localhost,127.0.0.0/8,::1"


class LabError(Exception):
    """The lab cannot do what was asked; the message says why and how to fix it."""


@dataclass(frozen=True)
class Lab:
    root: Path
    registry_port: int = 5000
    auth_registry_port: int = 5001
    # Where every registry of the lab sends its notifications (each endpoint gets every event, with the bearer
    # token).
    webhooks: tuple[str, ...] = ()
    # The distribution 3 registry's loopback port; None: no distribution 3 registry.
    v3_registry_port: int | None = None
    registry_v3: Path = REGISTRY_V3
    # Where the Docker Hub stand-in is built once, for every lab on this machine.
    cache: Path = field(default_factory=hub.default_cache)
    # A loopback TCP port where the daemon also listens with TLS, asking every client for a certificate its CA
    # signed (dockerd --tlsverify), as a team's build host does; and the folder of the daemon's ca.pem,
    # server-cert.pem and server-key.pem. None: the unix socket only.
    tls_port: int | None = None
    tls_folder: Path | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tls_docker_host(self) -> str:
        """The daemon's TLS address (on loopback), when it has one."""
        return f"tcp://127.0.0.1:{self.tls_port}"

    @property
    def tap_socket(self) -> Path:
        """Where `./scripts/serve` runs the API tap in front of the lab's daemon (ARCHVIZ_TAP_SOCKET)."""
        return self.root / "tap.sock"

    @property
    def guard_record(self) -> Path:
        """One JSON line per request the guard refused (archviz.lab.guard.attempts reads it)."""
        return self.root / "guard.jsonl"

    @property
    def guard_address(self) -> str:
        return f"127.0.0.1:{(self.root / 'guard.port').read_text().strip()}"

    @property
    def registry_address(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    @property
    def auth_registry_address(self) -> str:
        return f"127.0.0.1:{self.auth_registry_port}"

    @property
    def auth_user(self) -> str:
        return AUTH_USER

    @property
    def auth_password(self) -> str:
        """The password of `auth_user` at the auth registry (made at random, kept in the lab folder)."""
        return self._secret("auth-password", lambda: secrets.token_urlsafe(24))

    @property
    def v3_registry_address(self) -> str:
        return f"127.0.0.1:{self.v3_registry_port}"

    @property
    def users(self) -> tuple[str, ...]:
        """The users both registries that ask for a login know (alice and bob)."""
        return USERS

    def password_file(self, user: str) -> Path:
        return self.root / f"password-{user}"

    def password(self, user: str) -> str:
        """A user's password at both registries that ask for a login (made at random, kept in the lab folder)."""
        return self._secret(self.password_file(user).name, lambda: secrets.token_urlsafe(24))

    def htpasswd(self, name: str, *extra: tuple[str, str]) -> Path:
        """The htpasswd file NAME in the lab folder, for the lab's users and the `extra` (user, password) pairs."""
        path = self.root / name
        logins = [*((user, self.password(user)) for user in self.users), *extra]
        path.write_text("".join(htpasswd_line(user, password) for user, password in logins))
        return path

    def v3_missing(self) -> str:
        """Why this lab runs no distribution 3 registry, or "" when it does."""
        if self.v3_registry_port is None:
            return "no port was given for it"
        return registry_v3_missing(self.registry_v3)

    @property
    def base_image(self) -> str:
        return f"{self.registry_address}/lab/busybox:1"

    @property
    def webhook_token(self) -> str:
        """The bearer token the registry sends with its notifications (kept in the lab folder)."""
        return self._secret("webhook-token", lambda: os.environ.get("ARCHVIZ_REGISTRY_TOKEN")
                            or secrets.token_urlsafe(32))

    def client(self, timeout: int = 60, max_pool_size: int = 10) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.docker_host, version="1.41", timeout=timeout,
                                   max_pool_size=max_pool_size)

    # Lifecycle ----------------------------------------------------------------------------------

    def up(self, say: Callable[[str], None] = print) -> None:
        """Start what is not running (all at once, then wait for each to answer), then push the base image."""
        check_tools()
        self.root.mkdir(parents=True, exist_ok=True)
        answering: list[Callable[[], None]] = []
        if self.daemon_pid() is None:
            say(f"starting dockerd on {self.docker_host}")
            self._spawn_daemon()
            answering.append(self._daemon_answers)
        if self.registry_pid() is None:
            say(f"starting the registry on {self.registry_address}, also the daemon's Docker Hub stand-in")
            hub.seed(self.root / "registry", self.cache)
            answering.append(self._spawn_registry("registry", self.registry_address, registry_config(
                self.root / "registry", self.registry_address, self.webhooks, self.webhook_token)))
        if self.auth_registry_pid() is None:
            say(f"starting the registry with a login on {self.auth_registry_address}, for {self.auth_user} and "
                f"{' and '.join(self.users)}, notifying {', '.join(self.webhooks) or 'no one'}")
            htpasswd = self.htpasswd("htpasswd", (self.auth_user, self.auth_password))
            answering.append(self._spawn_registry("auth-registry", self.auth_registry_address, registry_config(
                self.root / "auth-registry", self.auth_registry_address, self.webhooks, self.webhook_token,
                htpasswd)))
        answering += self._start_v3(say)
        for wait in answering:
            wait()
        say(f"building and pushing {self.base_image}")
        self._push_base_image()

    def _start_v3(self, say: Callable[[str], None]) -> list[Callable[[], None]]:
        """Start the distribution 3 registry when this lab has one and it is not running; say why when it cannot."""
        if self.v3_registry_port is None:
            return []
        missing = self.v3_missing()
        if missing:
            say(f"no distribution 3 registry: {missing}")
            return []
        if self.v3_registry_pid() is not None:
            return []
        first = self.users[0]
        say(f"starting distribution 3.1.1 on {self.v3_registry_address}, with a login for {' and '.join(self.users)}"
            f" (docker login {self.v3_registry_address} -u {first} --password-stdin < {self.password_file(first)}),"
            f" notifying {', '.join(self.webhooks) or 'no one'}")
        htpasswd = self.htpasswd("v3-htpasswd")
        return [self._spawn_registry("v3-registry", self.v3_registry_address, registry_config(
            self.root / "v3-registry", self.v3_registry_address, self.webhooks, self.webhook_token, htpasswd,
            references=True), program=self.registry_v3)]

    def down(self, say: Callable[[str], None] = print) -> None:
        pid = self.daemon_pid()
        if pid is not None:
            self._remove_containers()
            say("stopping dockerd")
            _stop(pid)
        for name, pid in (("the registry", self.registry_pid()),
                          ("the registry with a login", self.auth_registry_pid()),
                          ("the distribution 3 registry", self.v3_registry_pid()),
                          ("the network guard", self.guard_pid())):
            if pid is not None:
                say(f"stopping {name}")
                _stop(pid)
        self._unmount_leftovers()
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def status(self) -> dict[str, object]:
        return {
            "daemon": self.daemon_pid(),
            "registry": self.registry_pid(),
            "docker_host": self.docker_host,
            "registry_address": self.registry_address,
            "auth_registry": self.auth_registry_pid(),
            "auth_registry_address": self.auth_registry_address,
            "auth_registry_user": self.auth_user,
            "auth_registry_password_file": str(self.root / "auth-password"),
            "tap_socket": f"unix://{self.tap_socket}",
            "hub_mirror": f"http://{self.registry_address}",
            "v3_registry": self.v3_registry_pid(),
            "v3_registry_address": self.v3_registry_address if self.v3_registry_port is not None else None,
            "users": list(self.users),
            "password_files": [str(self.password_file(user)) for user in self.users],
            "v3_registry_missing": self.v3_missing() or None,
            "guard": self.guard_pid(),
            "guard_record": str(self.guard_record),
        }

    def start_daemon(self) -> None:
        """Start dockerd with the lab registry as its Docker Hub mirror and the guard as its proxy; wait for it."""
        self._spawn_daemon()
        self._daemon_answers()

    def _spawn_daemon(self) -> None:
        if self.guard_pid() is None:
            self._start_guard()
        tls: list[str] = []
        if self.tls_port is not None and self.tls_folder is not None:
            tls = ["--host", self.tls_docker_host, "--tlsverify", "--tlscacert", str(self.tls_folder / "ca.pem"),
                   "--tlscert", str(self.tls_folder / "server-cert.pem"),
                   "--tlskey", str(self.tls_folder / "server-key.pem")]
        with (self.root / "dockerd.log").open("ab") as log:
            subprocess.Popen(
                [
                    "dockerd",
                    "--data-root", str(self.root / "data"),
                    "--exec-root", str(self.root / "exec"),
                    "--pidfile", str(self.root / "dockerd.pid"),
                    "--host", self.docker_host,
                    "--registry-mirror", f"http://{self.registry_address}",
                    "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
                    *tls,
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env=guarded(dict(os.environ), f"http://{self.guard_address}"),
            )

    def _daemon_answers(self) -> None:
        deadline = time.monotonic() + DAEMON_START_SECONDS
        client = self.client(timeout=2)
        try:
            while time.monotonic() < deadline:
                try:
                    client.ping()
                    return
                except (DockerException, requests.exceptions.RequestException):
                    time.sleep(POLL_SECONDS)
        finally:
            client.close()
        raise LabError(f"dockerd did not answer on {self.docker_host} within {DAEMON_START_SECONDS:.0f} s:\n"
                       + self._tail("dockerd.log"))

    def stop_daemon(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the lab's dockerd (SIGKILL to simulate a crash); its data stays for a restart."""
        pid = self.daemon_pid()
        if pid is None:
            return
        if sig == signal.SIGKILL:
            # Killing dockerd leaves its containerd child behind: kill the whole group, and forget
            # containerd's pid, or the next dockerd waits on a containerd that is dying or a zombie.
            members = _group_members(os.getpgid(pid))
            os.killpg(os.getpgid(pid), signal.SIGKILL)
            for member in members:
                _wait_gone(member)
            (self.root / "dockerd.pid").unlink(missing_ok=True)
            (self.root / "exec" / "containerd" / "containerd.pid").unlink(missing_ok=True)
        else:
            _stop(pid)

    # Pieces -------------------------------------------------------------------------------------

    def daemon_pid(self) -> int | None:
        return _live_pid(self.root / "dockerd.pid", "dockerd")

    def registry_pid(self) -> int | None:
        return _live_pid(self.root / "registry.pid", "docker-registry")

    def auth_registry_pid(self) -> int | None:
        return _live_pid(self.root / "auth-registry.pid", "docker-registry")

    def v3_registry_pid(self) -> int | None:
        return _live_pid(self.root / "v3-registry.pid", self.registry_v3.name)

    def guard_pid(self) -> int | None:
        return _live_pid(self.root / "guard.pid", "guard.py")

    def _start_guard(self) -> None:
        """Bind a free loopback port here and hand it to the guard: it takes connections from the first moment."""
        with socket.socket() as listener, (self.root / "guard.log").open("ab") as log:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            process = subprocess.Popen(
                [sys.executable, "-I", guard.__file__, str(listener.fileno()), str(self.guard_record)],
                pass_fds=(listener.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True,
            )
            (self.root / "guard.pid").write_text(str(process.pid))
            (self.root / "guard.port").write_text(str(listener.getsockname()[1]))

    def _spawn_registry(self, name: str, address: str, config: str, program: Path | str = "docker-registry"
                        ) -> Callable[[], None]:
        """Start a registry (Debian's `docker-registry`, or `program`) whose config, log and pid file are NAME.yml,
        NAME.log and NAME.pid; return what waits until it answers."""
        config_path = self.root / f"{name}.yml"
        config_path.write_text(config)
        with (self.root / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [str(program), "serve", str(config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        (self.root / f"{name}.pid").write_text(str(process.pid))

        def answers() -> None:
            deadline = time.monotonic() + REGISTRY_START_SECONDS
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise LabError(f"the registry on {address} exited at start:\n{self._tail(f'{name}.log')}")
                try:
                    with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                        return
                except urllib.error.HTTPError:
                    return  # it answers (the one with a login answers 401 Unauthorized)
                except (urllib.error.URLError, OSError):
                    time.sleep(POLL_SECONDS)
            raise LabError(f"the registry did not answer on {address}:\n{self._tail(f'{name}.log')}")

        return answers

    def _push_base_image(self) -> None:
        repository, tag = self.base_image.rsplit(":", 1)
        client = self.client()
        try:
            client.api.import_image_from_data(
                busybox_rootfs(), repository=repository, tag=tag, changes=['CMD ["/bin/sh"]']
            )
            for line in client.api.push(repository, tag=tag, stream=True, decode=True):
                if "error" in line:
                    raise LabError(f"pushing {self.base_image} failed: {line['error']}")
        finally:
            client.close()

    def _remove_containers(self) -> None:
        client = self.client(timeout=30)
        try:
            for container in client.containers.list(all=True):
                container.remove(force=True)
        except (DockerException, requests.exceptions.RequestException):
            pass
        finally:
            client.close()

    def _unmount_leftovers(self) -> None:
        # A killed daemon can leave overlay and shm mounts under its roots; unmount them deepest first.
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(str(self.root) + "/")]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)

    def _secret(self, name: str, make: Callable[[], str]) -> str:
        """A secret kept in the lab folder (mode 600), made the first time it is asked for."""
        path = self.root / name
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(make())
        return path.read_text().strip()

    def _tail(self, name: str, lines: int = 15) -> str:
        path = self.root / name
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def check_tools() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab runs its own dockerd, which needs root: run this as root.")
    missing = [tool for tool in ("dockerd", "docker-registry") if shutil.which(tool) is None]
    if not BUSYBOX.exists():
        missing.append(str(BUSYBOX))
    if missing:
        raise LabError(f"the lab needs {', '.join(missing)}: apt-get install {APT_PACKAGES}")


def registry_v3_missing(binary: Path = REGISTRY_V3) -> str:
    """Why distribution 3.1.1 cannot run here, or "" when it can."""
    if not binary.is_file():
        return (f"distribution 3.1.1 is not at {binary} (the shared folder beside the project), so the lab runs "
                f"Debian's distribution 2.8.2 only")
    return ""


def busybox_rootfs() -> bytes:
    """A tar of a minimal root filesystem: Debian's static busybox and a few applet links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for folder in ("bin", "tmp", "etc"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            archive.addfile(info)
        archive.add(str(BUSYBOX), arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
    return buffer.getvalue()


def guarded(environment: dict[str, str], proxy: str) -> dict[str, str]:
    """The daemon's environment: every proxy variable (Go reads either case) sends what is off loopback to `proxy`."""
    names = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    return environment | dict.fromkeys(names, proxy) | {"NO_PROXY": NO_PROXY, "no_proxy": NO_PROXY}


def htpasswd_line(user: str, password: str) -> str:
    """The user's line of an htpasswd file for distribution, which takes bcrypt hashes only.

    libxcrypt (libcrypt.so.1, which every Debian has: perl-base needs it) makes the hash, so the lab needs
    neither apache2-utils' htpasswd nor a Python package; `openssl passwd` has no bcrypt.
    """
    try:
        libcrypt = ctypes.CDLL("libcrypt.so.1")
    except OSError as error:
        raise LabError(f"the registry with a login needs libxcrypt for its bcrypt hash: {error}") from None
    libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    libcrypt.crypt_gensalt.restype = ctypes.c_char_p
    libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libcrypt.crypt.restype = ctypes.c_char_p
    # No random bytes given: libxcrypt takes them from the kernel. Cost 0 means its default.
    setting = libcrypt.crypt_gensalt(b"$2b$", 0, None, 0)
    hashed = libcrypt.crypt(password.encode(), setting) if setting else None
    if not hashed or not hashed.startswith(b"$2b$"):
        raise LabError("libxcrypt could not make a bcrypt hash for the registry with a login")
    return f"{user}:{hashed.decode()}\n"


def registry_config(storage: Path, address: str, webhooks: tuple[str, ...] = (), token: str = "",
                    htpasswd: Path | None = None, references: bool = False) -> str:
    """A registry's config (distribution 2.8.2 and 3.x read the same `version: 0.1` format). `references`: list each
    manifest's blobs in its events (distribution 3's `includereferences`)."""
    config = f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: {address}
"""
    if htpasswd is not None:
        config += f"""auth:
  htpasswd:
    realm: archviz-lab
    path: {htpasswd}
"""
    if webhooks:
        config += "notifications:\n"
        if references:
            config += "  events:\n    includereferences: true\n"
        config += "  endpoints:\n"
    for number, url in enumerate(webhooks):
        config += f"""    - name: endpoint-{number}
      url: {url}
      headers:
        Authorization: [Bearer {token}]
      timeout: 2s
      threshold: 10
      backoff: 1s
"""
    return config


def _live_pid(pidfile: Path, name: str) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if name.encode() in cmdline else None


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait_gone(pid, STOP_SECONDS):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            # A child we started and that exited stays a zombie until reaped.
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                _reap(pid)
                return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
