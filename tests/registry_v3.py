"""A real distribution 3.1.1 registry (../shared/bin/registry-v3), run standalone in a temp dir for a test.

It asks for a login (htpasswd, one line per user), notifies the given endpoints with the bearer token and
`includereferences`, as /work/shared/bin/README.md says, and listens on a free loopback port.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from archviz.lab.processes import htpasswd_line

BINARY = Path(__file__).resolve().parents[2] / "shared" / "bin" / "registry-v3"
START_SECONDS = 20.0


def missing() -> str:
    """Why a test cannot run the real registry v3 here, or "" when it can."""
    if not BINARY.is_file():
        return f"distribution 3.1.1 is not at {BINARY} (the shared folder beside the project)"
    return ""


@dataclass
class RegistryV3:
    root: Path
    port: int
    users: dict[str, str]
    webhooks: tuple[str, ...]
    token: str
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config(self) -> str:
        endpoints = "".join(
            f"    - {{name: endpoint-{number}, url: {url}, headers: {{Authorization: [Bearer {self.token}]}},"
            f" timeout: 2s, threshold: 5, backoff: 1s}}\n" for number, url in enumerate(self.webhooks))
        return (f"version: 0.1\nlog: {{level: warn}}\n"
                f"storage: {{filesystem: {{rootdirectory: {self.root}/data}}, delete: {{enabled: true}}}}\n"
                f"http: {{addr: {self.address}}}\n"
                f"auth: {{htpasswd: {{realm: lab, path: {self.root}/htpasswd}}}}\n"
                f"notifications:\n  events: {{includereferences: true}}\n  endpoints:\n{endpoints}")

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "htpasswd").write_text("".join(htpasswd_line(user, password)
                                                    for user, password in self.users.items()))
        (self.root / "config.yml").write_text(self.config())
        log = (self.root / "registry.log").open("ab")
        self.process = subprocess.Popen([str(BINARY), "serve", str(self.root / "config.yml")],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"registry-v3 exited at start: {(self.root / 'registry.log').read_text()}")
            try:
                with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # it answers: 401, it asks for a login
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"registry-v3 did not answer on {self.address}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
